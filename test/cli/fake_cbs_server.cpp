// A minimal TC3-verifying HTTPS server for the cbsctl end-to-end test (until
// the emulator lands): verifies each request's signature against one known
// key pair and answers CreateSnapshotGroup success, or
// AuthFailure.SignatureFailure. Prints "<port> <ca-file>" on stdout, then
// serves until killed, or for 60 s at most.
#include "support/pki.hpp"
#include "support/scripted_server.hpp"

#include <cbs/tc3_signer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <iostream>

namespace t = cbs::test;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: fake_cbs_server SECRET_ID SECRET_KEY\n";
        return 2;
    }
    std::string id = argv[1], key = argv[2];
    boost::asio::io_context io;
    t::scripted_server server(io.get_executor());
    cbs::tc3_signer signer;
    int n = 0;
    server.set_default_script({t::serve([&](const t::recorded_request& r) {
        cbs::tc3_request sr;
        auto host = r.header("Host"), ct = r.header("Content-Type"), ts = r.header("X-TC-Timestamp");
        sr.secret_id = id;
        sr.secret_key = key;
        sr.host = host;
        sr.content_type = ct;
        sr.payload = r.body;
        sr.timestamp = ts.empty() ? 0 : std::stoll(ts);
        auto seq = std::to_string(++n);
        std::string rid = "00000000-0000-4000-8000-" + std::string(12 - seq.size(), '0') + seq;
        if (signer.authorization(sr) != r.header("Authorization"))
            return t::http_ok_json(t::api_error_body("AuthFailure.SignatureFailure", "signature mismatch", rid));
        return t::http_ok_json(t::api_success_body(rid, R"("SnapshotGroupId":"csnap-fake0001")"));
    })});
    std::cout << server.port() << " " << t::default_pki().write_ca_file() << std::endl;
    boost::asio::steady_timer limit(io, std::chrono::seconds(60));
    limit.async_wait([&](auto) {
        server.stop();
        io.stop();
    });
    io.run();
}
