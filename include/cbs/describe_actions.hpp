// cbs-async: typed DescribeDisks, DescribeSnapshotGroups, DeleteSnapshotGroup,
// DescribeSnapshots and ApplySnapshotGroup (CBS version 2017-03-12), beside
// CreateSnapshotGroup
// (actions.hpp). Each request works with client::async_invoke():
//
//   cbs::describe_disks_request req;
//   req.filters = {{"instance-id", {"ins-12345678"}}};
//   req.limit = 100;
//   auto r = co_await c.async_invoke(req, cbs::as_result);   // result<describe_disks_response>
//
// Conventions (as actions.hpp): snake_case members map to the PascalCase wire
// fields; validate() checks a request before anything is sent and returns
// client_errc::invalid_request with diag.client_message naming the field and
// value; to_json() gives the exact wire body; from_json() reads the
// `Response` object and returns client_errc::bad_response (the message names
// the field) when a required field (TotalCount, the set, an item's id) is
// missing or a field has the wrong JSON type. Optional fields that are
// missing or JSON null (the service sends null for several of them) keep
// their default value. A set that is null is read as empty.
//
// Paging over every page: see paginate.hpp.
#pragma once

#include <cbs/actions.hpp>
#include <cbs/error.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cbs {

/// One filter of a Describe* call: {"Name": name, "Values": [values...]}.
/// Filters are AND-combined; the values of one filter are OR-combined.
struct filter {
    std::string name{};                 ///< Name, e.g. "instance-id"
    std::vector<std::string> values{};  ///< Values, at least one
};

/// Largest Limit of the Describe* actions (documented maximum page size).
inline constexpr std::int64_t max_describe_limit = 100;

/// True for a well-formed snapshot group id: "csnap-" followed by 8 lower-case
/// letters or digits.
bool is_valid_snapshot_group_id(std::string_view id) noexcept;

/// True for a well-formed snapshot id: "snap-" followed by 8 lower-case
/// letters or digits.
bool is_valid_snapshot_id(std::string_view id) noexcept;

// ---------------------------------------------------------------------------
// DescribeDisks

/// A CBS disk as DescribeDisks returns it (the fields a snapshot tool needs;
/// the wire object has more).
struct disk {
    std::string disk_id{};           ///< DiskId, "disk-xxxxxxxx" (required)
    std::string disk_name{};         ///< DiskName
    std::string disk_usage{};        ///< DiskUsage: SYSTEM_DISK | DATA_DISK
    std::string disk_type{};         ///< DiskType: CLOUD_BASIC | CLOUD_PREMIUM | CLOUD_SSD | CLOUD_HSSD | ...
    std::string disk_state{};        ///< DiskState: UNATTACHED | ATTACHING | ATTACHED | DETACHING | ...
    std::string disk_charge_type{};  ///< DiskChargeType: PREPAID | POSTPAID_BY_HOUR | ...
    std::uint64_t disk_size = 0;     ///< DiskSize, GiB
    bool attached = false;           ///< Attached: attached to an instance
    std::string instance_id{};       ///< InstanceId of the attached instance ("" if none)
    std::string instance_type{};     ///< InstanceType: CVM | EKS
    bool shareable = false;          ///< Shareable: may be attached to several instances
    std::vector<std::string> instance_id_list{};  ///< InstanceIdList: every instance a shareable disk is attached to
    bool snapshot_ability = false;                ///< SnapshotAbility: the disk can be snapshotted
    bool migrating = false;                       ///< Migrating: being migrated
    int migrate_percent = 0;                      ///< MigratePercent
    bool rollbacking = false;                     ///< Rollbacking: being rolled back from a snapshot
    int rollback_percent = 0;                     ///< RollbackPercent
    bool portable = false;                        ///< Portable: can be detached / attached elsewhere
    bool encrypt = false;                         ///< Encrypt
    std::string zone{};                           ///< Placement.Zone, e.g. "ap-guangzhou-3"
    std::int64_t project_id = 0;                  ///< Placement.ProjectId
    std::uint64_t snapshot_count = 0;             ///< SnapshotCount
    std::string create_time{};                    ///< CreateTime, "YYYY-MM-DD hh:mm:ss" as sent
    std::string deadline_time{};                  ///< DeadlineTime (prepaid disks; "" when null)
    std::vector<tag> tags{};                      ///< Tags [{Key, Value}]
};

struct describe_disks_response;

/// DescribeDisks: the disks matching DiskIds or Filters (not both), one page.
struct describe_disks_request {
    static constexpr std::string_view action = "DescribeDisks";
    using response_type = describe_disks_response;

    /// DiskIds.N: "disk-xxxxxxxx" ids, distinct. Exclusive with `filters`.
    std::vector<std::string> disk_ids{};
    /// Filters.N, among: disk-usage (SYSTEM_DISK|DATA_DISK), disk-charge-type,
    /// portable, project-id, disk-id, disk-name, disk-type, disk-state
    /// (UNATTACHED|ATTACHING|ATTACHED|DETACHING|EXPANDING|ROLLBACKING|TORECYCLE|DUMPING),
    /// instance-id, zone, instance-ip-address, instance-name, tag-key,
    /// tag-value, tag:<key>, dedicated-cluster-id, cluster-group-id.
    /// Exclusive with `disk_ids`.
    std::vector<filter> filters{};
    std::int64_t limit = 20;    ///< Limit: page size, 1..100 (the API's default is 20). Always sent.
    std::int64_t offset = 0;    ///< Offset: >= 0. Always sent.
    std::string order_field{};  ///< OrderField: "" (not sent), CREATE_TIME or DEADLINE
    std::string order{};        ///< Order: "" (not sent), ASC or DESC
    bool return_bind_auto_snapshot_policy = false;  ///< ReturnBindAutoSnapshotPolicy (sent only when true)
};

struct describe_disks_response {
    std::uint64_t total_count = 0;  ///< TotalCount: disks matching, over all pages (required)
    std::vector<disk> disk_set{};   ///< DiskSet: this page (required)
    std::string request_id{};       ///< RequestId
};

error_code validate(const describe_disks_request& req, diagnostics& diag);
boost::json::object to_json(const describe_disks_request& req);
error_code from_json(const boost::json::object& response, describe_disks_response& out, diagnostics& diag);

// ---------------------------------------------------------------------------
// DescribeSnapshotGroups

/// An image created from a snapshot group.
struct snapshot_group_image {
    std::string image_id{};    ///< ImageId
    std::string image_name{};  ///< ImageName
};

/// A snapshot group as DescribeSnapshotGroups returns it.
struct snapshot_group {
    std::string snapshot_group_id{};             ///< SnapshotGroupId, "csnap-xxxxxxxx" (required)
    std::string name{};                          ///< SnapshotGroupName
    std::string type{};                          ///< SnapshotGroupType (NORMAL: ordinary, not crash-consistent)
    std::string state{};                         ///< SnapshotGroupState: NORMAL | CREATING | ROLLBACKING
    int percent = 0;                             ///< Percent: creation progress, 0..100
    bool contain_root_snapshot = false;          ///< ContainRootSnapshot: has a system-disk snapshot
    std::vector<std::string> snapshot_ids{};     ///< SnapshotIdSet: the member snapshots
    std::string create_time{};                   ///< CreateTime, as sent
    std::string modify_time{};                   ///< ModifyTime, as sent
    std::vector<snapshot_group_image> images{};  ///< Images [{ImageId, ImageName}]
    std::uint64_t image_count = 0;               ///< ImageCount
    bool is_permanent = false;                   ///< IsPermanent
    std::string deadline_time{};                 ///< DeadlineTime ("" when null)
    std::string auto_snapshot_policy_id{};       ///< AutoSnapshotPolicyId ("" when null)
};

struct describe_snapshot_groups_response;

/// DescribeSnapshotGroups: the groups matching Filters, one page.
struct describe_snapshot_groups_request {
    static constexpr std::string_view action = "DescribeSnapshotGroups";
    using response_type = describe_snapshot_groups_response;

    /// Filters.N, among: snapshot-group-id, snapshot-group-name,
    /// snapshot-group-state (NORMAL|CREATING|ROLLBACKING), snapshot-id.
    std::vector<filter> filters{};
    std::int64_t limit = 20;  ///< Limit: page size, 1..100 (the API's default is 20). Always sent.
    std::int64_t offset = 0;  ///< Offset: >= 0. Always sent.
};

struct describe_snapshot_groups_response {
    std::uint64_t total_count = 0;                     ///< TotalCount (required)
    std::vector<snapshot_group> snapshot_group_set{};  ///< SnapshotGroupSet: this page (required)
    std::string request_id{};                          ///< RequestId
};

error_code validate(const describe_snapshot_groups_request& req, diagnostics& diag);
boost::json::object to_json(const describe_snapshot_groups_request& req);
error_code from_json(const boost::json::object& response, describe_snapshot_groups_response& out, diagnostics& diag);

// ---------------------------------------------------------------------------
// DeleteSnapshotGroup

struct delete_snapshot_group_response;

/// DeleteSnapshotGroup: deletes groups and all their member snapshots.
struct delete_snapshot_group_request {
    static constexpr std::string_view action = "DeleteSnapshotGroup";
    using response_type = delete_snapshot_group_response;

    /// SnapshotGroupIds.N: 1+ distinct "csnap-xxxxxxxx" ids.
    std::vector<std::string> snapshot_group_ids{};
    /// DeleteBindImages: also delete images made from the groups. When false
    /// (the default, not sent) and a group has images, nothing is deleted
    /// (UnsupportedOperation.SnapshotHasBindedImage).
    bool delete_bind_images = false;
};

struct delete_snapshot_group_response {
    std::string request_id{};  ///< RequestId
};

error_code validate(const delete_snapshot_group_request& req, diagnostics& diag);
boost::json::object to_json(const delete_snapshot_group_request& req);
error_code from_json(const boost::json::object& response, delete_snapshot_group_response& out, diagnostics& diag);

// ---------------------------------------------------------------------------
// DescribeSnapshots

/// A snapshot as DescribeSnapshots returns it.
struct snapshot {
    std::string snapshot_id{};      ///< SnapshotId, "snap-xxxxxxxx" (required)
    std::string name{};             ///< SnapshotName
    std::string state{};            ///< SnapshotState: NORMAL | CREATING | ROLLBACKING | COPYING_FROM_REMOTE | ...
    int percent = 0;                ///< Percent: creation progress, 0..100
    std::string disk_id{};          ///< DiskId: the disk it was taken from
    std::string disk_usage{};       ///< DiskUsage: SYSTEM_DISK | DATA_DISK
    std::uint64_t disk_size = 0;    ///< DiskSize, GiB
    std::string create_time{};      ///< CreateTime, as sent
    std::string snapshot_type{};    ///< SnapshotType: PRIVATE_SNAPSHOT | SHARED_SNAPSHOT
    bool encrypt = false;           ///< Encrypt
    bool is_permanent = false;      ///< IsPermanent
    std::string deadline_time{};    ///< DeadlineTime ("" when null)
    std::string zone{};             ///< Placement.Zone
    std::uint64_t image_count = 0;  ///< ImageCount
};

struct describe_snapshots_response;

/// DescribeSnapshots: the snapshots matching SnapshotIds or Filters (not both), one page.
struct describe_snapshots_request {
    static constexpr std::string_view action = "DescribeSnapshots";
    using response_type = describe_snapshots_response;

    /// SnapshotIds.N: "snap-xxxxxxxx" ids, distinct. Exclusive with `filters`.
    std::vector<std::string> snapshot_ids{};
    /// Filters.N, among: snapshot-id, snapshot-name, snapshot-state
    /// (NORMAL|CREATING|ROLLBACKING|COPYING_FROM_REMOTE|CHECKING_COPIED|TORECYCLE),
    /// disk-usage (SYSTEM_DISK|DATA_DISK), project-id, disk-id (at most 10
    /// values), encrypt, snapshot-type (SHARED_SNAPSHOT|PRIVATE_SNAPSHOT).
    /// Exclusive with `snapshot_ids`.
    std::vector<filter> filters{};
    std::int64_t limit = 20;    ///< Limit: page size, 1..100 (the API's default is 20). Always sent.
    std::int64_t offset = 0;    ///< Offset: >= 0. Always sent.
    std::string order_field{};  ///< OrderField: "" (not sent), CREATE_TIME or DEADLINE
    std::string order{};        ///< Order: "" (not sent), ASC or DESC
};

struct describe_snapshots_response {
    std::uint64_t total_count = 0;         ///< TotalCount (required)
    std::vector<snapshot> snapshot_set{};  ///< SnapshotSet: this page (required)
    std::string request_id{};              ///< RequestId
};

error_code validate(const describe_snapshots_request& req, diagnostics& diag);
boost::json::object to_json(const describe_snapshots_request& req);
error_code from_json(const boost::json::object& response, describe_snapshots_response& out, diagnostics& diag);

// ---------------------------------------------------------------------------
// ApplySnapshotGroup (rollback)

/// One disk to roll back and the member snapshot it is rolled back to.
struct apply_disk {
    std::string snapshot_id{};  ///< SnapshotId: a member snapshot of the group, "snap-xxxxxxxx"
    std::string disk_id{};      ///< DiskId: the disk that snapshot was taken from, "disk-xxxxxxxx"
};

struct apply_snapshot_group_response;

/// ApplySnapshotGroup: rolls disks back to a group's snapshots. The attached
/// disks must be on one instance, which must be stopped (or AutoStopInstance
/// set: UnsupportedOperation.StateError otherwise). Asynchronous: success only
/// means accepted; the group is ROLLBACKING, then NORMAL again (poll
/// DescribeSnapshotGroups, and DescribeDisks for Rollbacking). Not idempotent
/// in the client's eyes (an unanswered send is client_errc::outcome_unknown):
/// look at the group's state before sending again.
struct apply_snapshot_group_request {
    static constexpr std::string_view action = "ApplySnapshotGroup";
    using response_type = apply_snapshot_group_response;

    std::string snapshot_group_id{};        ///< SnapshotGroupId, "csnap-xxxxxxxx" (required)
    std::vector<apply_disk> apply_disks{};  ///< ApplyDisks.N: 1+ pairs, each disk once (required)
    bool auto_stop_instance = false;        ///< AutoStopInstance: stop a running instance first (sent only when true)
    bool auto_start_instance = false;       ///< AutoStartInstance: start it again afterwards (sent only when true)
};

struct apply_snapshot_group_response {
    std::string request_id{};  ///< RequestId
};

error_code validate(const apply_snapshot_group_request& req, diagnostics& diag);
boost::json::object to_json(const apply_snapshot_group_request& req);
error_code from_json(const boost::json::object& response, apply_snapshot_group_response& out, diagnostics& diag);

}  // namespace cbs
