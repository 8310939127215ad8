// client_params::from_env(): the client's settings from the same environment
// variables cbsctl reads, with the default credential chain.
#include <cbs/client.hpp>
#include <cbs/detail/credential_sources.hpp>
#include <cbs/proxy.hpp>

namespace cbs {

client_params client_params::from_env(const getenv_function& getenv) {
    client_params p;
    const auto env = [&](std::string_view name) { return detail::read_env(getenv, name); };
    if (auto region = env("CBS_REGION"); !region.empty())
        p.region = std::move(region);
    else if (auto tc_region = env("TENCENTCLOUD_REGION"); !tc_region.empty())
        p.region = std::move(tc_region);
    if (auto endpoint = env("CBS_ENDPOINT"); !endpoint.empty()) p.endpoint = std::move(endpoint);
    if (auto ca = env("CBS_CA_FILE"); !ca.empty()) p.pool.ca_file = std::move(ca);
    // https_proxy / HTTPS_PROXY unless no_proxy / NO_PROXY exempts the host,
    // as curl chooses (proxy.hpp).
    p.pool.proxy = proxy_from_env(p.endpoint, getenv);

    // The chain runs on the first call, not here: no file is read and
    // nothing is asked of the network yet. STS calls (profile roles, TKE
    // OIDC) trust the same CA file.
    credential_chain_params chain;
    chain.files.getenv = getenv;
    chain.sts_pool.ca_file = p.pool.ca_file;
    const auto sts = env("CBS_STS_ENDPOINT");
    chain.sts_pool.proxy = proxy_from_env(sts.empty() ? "https://sts.tencentcloudapi.com" : sts, getenv);
    p.credentials_provider = make_default_credential_chain(std::move(chain));
    return p;
}

}  // namespace cbs
