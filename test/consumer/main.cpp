// Builds and signs a request with an installed cbs-async; connects nowhere.
#include <cbs/client.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
    boost::asio::io_context io;
    cbs::client_params p;
    p.creds = {"AKIDEXAMPLE", "SECRETEXAMPLE", "", "explicit"};
    cbs::client c(io.get_executor(), p);
    auto text = c.render_request("DescribeDisks", {{"DiskIds", boost::json::array{"disk-11112222"}}}, 1700000000);
    return text.find("Signature=") != std::string::npos ? 0 : 1;
}
