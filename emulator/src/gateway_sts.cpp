// The gateway's side of the credential service: key lookup for the signature
// check, the STS actions, and the metadata service's requests (logged like
// every other request). The decisions are in sts.cpp.
#include "gateway.hpp"

namespace cbs::emu::detail {

const account* gateway::find_key(std::string_view secret_id) const {
    for (const auto& a : accounts_)
        if (a.secret_id == secret_id) return &a;
    return sts_.find(secret_id);
}

sts_outcome gateway::run_sts(std::string_view action, const boost::json::object& params, const std::string& caller,
                             std::int64_t now) {
    if (action == "AssumeRole") {
        const account* key = find_key(caller);
        return sts_.assume_role(params, key != nullptr && !key->token.empty(), now);
    }
    return sts_.assume_role_with_web_identity(params, now);
}

metadata_answer gateway::handle_metadata(std::string_view method, std::string_view target) {
    std::lock_guard lock(mu_);
    metadata_answer a = sts_.metadata(method, target, params_.unix_time());
    request_record rec;
    rec.time_ms = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    rec.arrival = params_.steady_now();
    rec.action = a.action;
    rec.outcome = a.status == 200 ? "ok" : "HTTP " + std::to_string(a.status);
    rec.issued_secret_id = a.issued_secret_id;
    record(std::move(rec));
    return a;
}

std::vector<issued_credential> gateway::issued_credentials() const {
    std::lock_guard lock(mu_);
    return sts_.issued();
}

void gateway::expire_issued_credentials() {
    std::lock_guard lock(mu_);
    sts_.expire_all(params_.unix_time());
}

}  // namespace cbs::emu::detail
