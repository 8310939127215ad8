// cbs-async: typed requests and responses of CBS actions (version 2017-03-12).
#pragma once

#include <cbs/error.hpp>

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace cbs {

struct tag {
    std::string key;
    std::string value;
};

struct create_snapshot_group_response;

/// CreateSnapshotGroup: one group of snapshots taken together over disks
/// attached to one instance. Not idempotent (the API has no ClientToken): use
/// a unique `snapshot_group_name` so an ambiguous failure can be reconciled.
struct create_snapshot_group_request {
    static constexpr std::string_view action = "CreateSnapshotGroup";
    using response_type = create_snapshot_group_response;

    std::vector<std::string> disk_ids{};  ///< required, 1+ distinct ids "disk-xxxxxxxx"
    std::string snapshot_group_name{};    ///< optional; members are named <name>_0, _1, ...
    std::vector<tag> tags{};              ///< optional; keys non-empty
};

struct create_snapshot_group_response {
    std::string snapshot_group_id;  ///< "csnap-xxxxxxxx"
    std::string request_id;
};

/// True for a well-formed CBS disk id: "disk-" followed by 8 lower-case
/// letters or digits.
bool is_valid_disk_id(std::string_view id) noexcept;

/// Checks a request before anything is sent. Returns client_errc::invalid_request
/// with diag.client_message naming the bad field and value, or {}.
error_code validate(const create_snapshot_group_request& req, diagnostics& diag);

/// The JSON body sent on the wire.
boost::json::object to_json(const create_snapshot_group_request& req);

/// Reads the `Response` object of a successful call. Returns
/// client_errc::bad_response if SnapshotGroupId is missing.
error_code from_json(const boost::json::object& response, create_snapshot_group_response& out, diagnostics& diag);

}  // namespace cbs
