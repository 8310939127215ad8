// cbs-async: reading the responses of DescribeDisks, DescribeSnapshotGroups,
// DeleteSnapshotGroup, DescribeSnapshots and ApplySnapshotGroup.
//
// Tolerant of what the service leaves out or sends as null (optional fields
// keep their defaults), strict about what a caller relies on: TotalCount, the
// set and each item's id must be there, and a field that is present must have
// its documented JSON type (a SnapshotAbility sent as a string must not
// silently read as false).
#include <cbs/describe_actions.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <limits>
#include <type_traits>

namespace cbs {

namespace {

namespace json = boost::json;

std::string_view kind_name(json::kind k) {
    switch (k) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "a bool";
        case json::kind::int64:
        case json::kind::uint64:
            return "an integer";
        case json::kind::double_:
            return "a number";
        case json::kind::string:
            return "a string";
        case json::kind::array:
            return "an array";
        case json::kind::object:
            return "an object";
    }
    return "?";
}

/// Reads fields of one response; the first problem is kept in diag.
class reader {
public:
    reader(std::string_view action, diagnostics& diag) : action_(action), diag_(diag) {}

    bool failed() const noexcept { return failed_; }

    error_code result() const {
        if (failed_) return client_errc::bad_response;
        return {};
    }

    void fail(const std::string& path, std::string_view what) {
        if (failed_) return;
        failed_ = true;
        diag_.client_message = std::string(action_) + " response: " + path + " " + std::string(what);
    }

    /// The value of `key`, or nullptr when it is missing or null.
    static const json::value* find(const json::object& o, std::string_view key) {
        auto it = o.find(key);
        if (it == o.end() || it->value().is_null()) return nullptr;
        return &it->value();
    }

    static std::string path(std::string_view at, std::string_view key) {
        return at.empty() ? std::string(key) : std::string(at) + "." + std::string(key);
    }

    void wrong_type(const std::string& p, const json::value& v, std::string_view expected) {
        fail(p, "is " + std::string(kind_name(v.kind())) + ", expected " + std::string(expected));
    }

    void string(const json::object& o, std::string_view key, std::string_view at, std::string& out) {
        const auto* v = find(o, key);
        if (!v) return;
        if (!v->is_string()) return wrong_type(path(at, key), *v, "a string");
        out = v->get_string();
    }

    /// A string that must be there and non-empty (an id).
    void required_string(const json::object& o, std::string_view key, std::string_view at, std::string& out) {
        const auto* v = find(o, key);
        if (!v || (v->is_string() && v->get_string().empty())) return fail(path(at, key), "is missing");
        string(o, key, at, out);
    }

    void boolean(const json::object& o, std::string_view key, std::string_view at, bool& out) {
        const auto* v = find(o, key);
        if (!v) return;
        if (!v->is_bool()) return wrong_type(path(at, key), *v, "a bool");
        out = v->get_bool();
    }

    template <class Int>
    void integer(const json::object& o, std::string_view key, std::string_view at, Int& out) {
        if (const auto* v = find(o, key)) integer_value(*v, path(at, key), out);
    }

    template <class Int>
    void integer_value(const json::value& v, const std::string& p, Int& out) {
        using lim = std::numeric_limits<Int>;
        if (v.is_int64()) {
            const auto x = v.get_int64();
            if (x < 0 && !std::is_signed_v<Int>) return fail(p, "is " + std::to_string(x) + ", expected >= 0");
            if constexpr (std::is_signed_v<Int>)
                if (x < static_cast<std::int64_t>(lim::min()) || x > static_cast<std::int64_t>(lim::max()))
                    return fail(p, "is " + std::to_string(x) + ", out of range");
            if (x >= 0 && static_cast<std::uint64_t>(x) > static_cast<std::uint64_t>(lim::max()))
                return fail(p, "is " + std::to_string(x) + ", out of range");
            out = static_cast<Int>(x);
        } else if (v.is_uint64()) {
            const auto x = v.get_uint64();
            if (x > static_cast<std::uint64_t>(lim::max()))
                return fail(p, "is " + std::to_string(x) + ", out of range");
            out = static_cast<Int>(x);
        } else if (v.is_double()) {
            // Integers sent as 12.0 (or a progress of 33.3): truncated.
            const double x = std::trunc(v.get_double());
            if (!(x >= static_cast<double>(lim::min()) && x < static_cast<double>(lim::max()) + 1.0))
                return fail(p, "is " + std::to_string(v.get_double()) + ", out of range");
            out = static_cast<Int>(x);
        } else {
            wrong_type(p, v, "an integer");
        }
    }

    void strings(const json::object& o, std::string_view key, std::string_view at, std::vector<std::string>& out) {
        const auto* v = find(o, key);
        if (!v) return;
        const auto p = path(at, key);
        if (!v->is_array()) return wrong_type(p, *v, "an array of strings");
        out.clear();
        out.reserve(v->get_array().size());
        for (std::size_t i = 0; i < v->get_array().size(); ++i) {
            const auto& e = v->get_array()[i];
            if (!e.is_string()) return wrong_type(p + "[" + std::to_string(i) + "]", e, "a string");
            out.emplace_back(e.get_string());
        }
    }

    /// An array of objects: calls item(object, "Key[i]") for each.
    template <class F>
    void objects(const json::object& o, std::string_view key, std::string_view at, F&& item) {
        const auto* v = find(o, key);
        if (!v) return;
        objects_value(*v, path(at, key), item);
    }

    template <class F>
    void objects_value(const json::value& v, const std::string& p, F&& item) {
        if (!v.is_array()) return wrong_type(p, v, "an array");
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size() && !failed_; ++i) {
            const auto ip = p + "[" + std::to_string(i) + "]";
            if (!a[i].is_object()) return wrong_type(ip, a[i], "an object");
            item(a[i].get_object(), ip);
        }
    }

    /// A nested object (e.g. Placement), or nullptr when missing or null.
    const json::object* object(const json::object& o, std::string_view key, std::string_view at) {
        const auto* v = find(o, key);
        if (!v) return nullptr;
        if (!v->is_object()) {
            wrong_type(path(at, key), *v, "an object");
            return nullptr;
        }
        return &v->get_object();
    }

    void tags(const json::object& o, std::string_view key, std::string_view at, std::vector<tag>& out) {
        out.clear();
        objects(o, key, at, [&](const json::object& t, const std::string& p) {
            tag tg;
            string(t, "Key", p, tg.key);
            string(t, "Value", p, tg.value);
            out.push_back(std::move(tg));
        });
    }

    /// TotalCount, the set (each item read by `item`) and RequestId.
    template <class T, class F>
    error_code page(const json::object& response, std::string_view set_key, std::uint64_t& total, std::vector<T>& set,
                    std::string& request_id, F&& item) {
        const auto* tc = find(response, "TotalCount");
        if (!tc)
            fail("TotalCount", "is missing");
        else
            integer_value(*tc, "TotalCount", total);
        auto it = response.find(set_key);
        if (it == response.end()) {
            fail(std::string(set_key), "is missing");
        } else if (!it->value().is_null()) {  // null: an empty page
            set.clear();
            objects_value(it->value(), std::string(set_key), [&](const json::object& o, const std::string& p) {
                T x;
                item(o, p, x);
                set.push_back(std::move(x));
            });
        }
        string(response, "RequestId", "", request_id);
        return result();
    }

private:
    std::string_view action_;
    diagnostics& diag_;
    bool failed_ = false;
};

void read_disk(reader& r, const json::object& o, const std::string& at, disk& d) {
    r.required_string(o, "DiskId", at, d.disk_id);
    r.string(o, "DiskName", at, d.disk_name);
    r.string(o, "DiskUsage", at, d.disk_usage);
    r.string(o, "DiskType", at, d.disk_type);
    r.string(o, "DiskState", at, d.disk_state);
    r.string(o, "DiskChargeType", at, d.disk_charge_type);
    r.integer(o, "DiskSize", at, d.disk_size);
    r.boolean(o, "Attached", at, d.attached);
    r.string(o, "InstanceId", at, d.instance_id);
    r.string(o, "InstanceType", at, d.instance_type);
    r.boolean(o, "Shareable", at, d.shareable);
    r.strings(o, "InstanceIdList", at, d.instance_id_list);
    r.boolean(o, "SnapshotAbility", at, d.snapshot_ability);
    r.boolean(o, "Migrating", at, d.migrating);
    r.integer(o, "MigratePercent", at, d.migrate_percent);
    r.boolean(o, "Rollbacking", at, d.rollbacking);
    r.integer(o, "RollbackPercent", at, d.rollback_percent);
    r.boolean(o, "Portable", at, d.portable);
    r.boolean(o, "Encrypt", at, d.encrypt);
    if (const auto* pl = r.object(o, "Placement", at)) {
        const auto p = at + ".Placement";
        r.string(*pl, "Zone", p, d.zone);
        r.integer(*pl, "ProjectId", p, d.project_id);
    }
    r.integer(o, "SnapshotCount", at, d.snapshot_count);
    r.string(o, "CreateTime", at, d.create_time);
    r.string(o, "DeadlineTime", at, d.deadline_time);
    r.tags(o, "Tags", at, d.tags);
}

void read_group(reader& r, const json::object& o, const std::string& at, snapshot_group& g) {
    r.required_string(o, "SnapshotGroupId", at, g.snapshot_group_id);
    r.string(o, "SnapshotGroupName", at, g.name);
    r.string(o, "SnapshotGroupType", at, g.type);
    r.string(o, "SnapshotGroupState", at, g.state);
    r.integer(o, "Percent", at, g.percent);
    r.boolean(o, "ContainRootSnapshot", at, g.contain_root_snapshot);
    r.strings(o, "SnapshotIdSet", at, g.snapshot_ids);
    r.string(o, "CreateTime", at, g.create_time);
    r.string(o, "ModifyTime", at, g.modify_time);
    g.images.clear();
    r.objects(o, "Images", at, [&](const json::object& i, const std::string& p) {
        snapshot_group_image img;
        r.string(i, "ImageId", p, img.image_id);
        r.string(i, "ImageName", p, img.image_name);
        g.images.push_back(std::move(img));
    });
    r.integer(o, "ImageCount", at, g.image_count);
    r.boolean(o, "IsPermanent", at, g.is_permanent);
    r.string(o, "DeadlineTime", at, g.deadline_time);
    r.string(o, "AutoSnapshotPolicyId", at, g.auto_snapshot_policy_id);
}

void read_snapshot(reader& r, const json::object& o, const std::string& at, snapshot& s) {
    r.required_string(o, "SnapshotId", at, s.snapshot_id);
    r.string(o, "SnapshotName", at, s.name);
    r.string(o, "SnapshotState", at, s.state);
    r.integer(o, "Percent", at, s.percent);
    r.string(o, "DiskId", at, s.disk_id);
    r.string(o, "DiskUsage", at, s.disk_usage);
    r.integer(o, "DiskSize", at, s.disk_size);
    r.string(o, "CreateTime", at, s.create_time);
    r.string(o, "SnapshotType", at, s.snapshot_type);
    r.boolean(o, "Encrypt", at, s.encrypt);
    r.boolean(o, "IsPermanent", at, s.is_permanent);
    r.string(o, "DeadlineTime", at, s.deadline_time);
    if (const auto* pl = r.object(o, "Placement", at)) r.string(*pl, "Zone", at + ".Placement", s.zone);
    r.integer(o, "ImageCount", at, s.image_count);
}

}  // namespace

error_code from_json(const json::object& response, describe_disks_response& out, diagnostics& diag) {
    reader r(describe_disks_request::action, diag);
    return r.page(response, "DiskSet", out.total_count, out.disk_set, out.request_id,
                  [&](const json::object& o, const std::string& at, disk& d) { read_disk(r, o, at, d); });
}

error_code from_json(const json::object& response, describe_snapshot_groups_response& out, diagnostics& diag) {
    reader r(describe_snapshot_groups_request::action, diag);
    return r.page(response, "SnapshotGroupSet", out.total_count, out.snapshot_group_set, out.request_id,
                  [&](const json::object& o, const std::string& at, snapshot_group& g) { read_group(r, o, at, g); });
}

error_code from_json(const json::object& response, describe_snapshots_response& out, diagnostics& diag) {
    reader r(describe_snapshots_request::action, diag);
    return r.page(response, "SnapshotSet", out.total_count, out.snapshot_set, out.request_id,
                  [&](const json::object& o, const std::string& at, snapshot& s) { read_snapshot(r, o, at, s); });
}

error_code from_json(const json::object& response, delete_snapshot_group_response& out, diagnostics& diag) {
    reader r(delete_snapshot_group_request::action, diag);
    r.string(response, "RequestId", "", out.request_id);
    return r.result();
}

error_code from_json(const json::object& response, apply_snapshot_group_response& out, diagnostics& diag) {
    reader r(apply_snapshot_group_request::action, diag);
    r.string(response, "RequestId", "", out.request_id);
    return r.result();
}

}  // namespace cbs
