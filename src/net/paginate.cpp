// cbs-async: batching of id filters for the Describe* actions.
#include <cbs/paginate.hpp>

#include <algorithm>

namespace cbs {

namespace {

template <class Request>
std::vector<Request> batches(std::span<const std::string> ids, std::size_t per_call, const char* filter_name) {
    if (per_call == 0) per_call = 100;
    std::vector<Request> out;
    out.reserve((ids.size() + per_call - 1) / per_call);
    for (std::size_t i = 0; i < ids.size(); i += per_call) {
        const auto chunk = ids.subspan(i, std::min(per_call, ids.size() - i));
        Request req;
        req.filters.push_back(filter{filter_name, std::vector<std::string>(chunk.begin(), chunk.end())});
        req.limit = max_describe_limit;
        req.offset = 0;
        out.push_back(std::move(req));
    }
    return out;
}

}  // namespace

std::vector<describe_disks_request> disks_by_instance_batches(std::span<const std::string> instance_ids,
                                                              std::size_t per_call) {
    return batches<describe_disks_request>(instance_ids, per_call, "instance-id");
}

std::vector<describe_snapshot_groups_request> snapshot_groups_by_id_batches(std::span<const std::string> group_ids,
                                                                            std::size_t per_call) {
    return batches<describe_snapshot_groups_request>(group_ids, per_call, "snapshot-group-id");
}

}  // namespace cbs
