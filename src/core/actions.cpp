#include <cbs/actions.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <unordered_set>

namespace cbs {

bool is_valid_disk_id(std::string_view id) noexcept {
    constexpr std::string_view prefix = "disk-";
    if (id.size() != prefix.size() + 8 || id.substr(0, prefix.size()) != prefix) return false;
    return std::all_of(id.begin() + prefix.size(), id.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

namespace {
error_code invalid(diagnostics& diag, std::string what) {
    diag.client_message = std::move(what);
    return client_errc::invalid_request;
}
}  // namespace

error_code validate(const create_snapshot_group_request& req, diagnostics& diag) {
    if (req.disk_ids.empty())
        return invalid(diag, "CreateSnapshotGroup: DiskIds is empty (at least one disk id is required)");
    std::unordered_set<std::string_view> seen;
    for (const auto& id : req.disk_ids) {
        if (!is_valid_disk_id(id))
            return invalid(diag, "CreateSnapshotGroup: DiskIds has a malformed id '" + id +
                                     "' (expected disk- and 8 lower-case letters or digits)");
        if (!seen.insert(id).second) return invalid(diag, "CreateSnapshotGroup: DiskIds lists '" + id + "' twice");
    }
    for (const auto& t : req.tags)
        if (t.key.empty()) return invalid(diag, "CreateSnapshotGroup: a tag has an empty Key");
    return {};
}

boost::json::object to_json(const create_snapshot_group_request& req) {
    boost::json::object body;
    boost::json::array ids;
    for (const auto& id : req.disk_ids) ids.emplace_back(id);
    body["DiskIds"] = std::move(ids);
    if (!req.snapshot_group_name.empty()) body["SnapshotGroupName"] = req.snapshot_group_name;
    if (!req.tags.empty()) {
        boost::json::array tags;
        for (const auto& t : req.tags) tags.push_back(boost::json::object{{"Key", t.key}, {"Value", t.value}});
        body["Tags"] = std::move(tags);
    }
    return body;
}

error_code from_json(const boost::json::object& response, create_snapshot_group_response& out, diagnostics& diag) {
    auto id = response.find("SnapshotGroupId");
    if (id == response.end() || !id->value().is_string() || id->value().get_string().empty()) {
        diag.client_message = "CreateSnapshotGroup response has no SnapshotGroupId";
        return client_errc::bad_response;
    }
    out.snapshot_group_id = id->value().get_string();
    if (auto rid = response.find("RequestId"); rid != response.end() && rid->value().is_string())
        out.request_id = rid->value().get_string();
    return {};
}

}  // namespace cbs
