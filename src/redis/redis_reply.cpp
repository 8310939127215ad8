// The Redis connection's error category, and hiredis's replies copied into
// redis_reply.
#include "hiredis_asio.hpp"
#include "redis_connection.hpp"

#include <hiredis/hiredis.h>

#include <string>

namespace cbs::detail {

namespace {

class redis_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "cbs.redis"; }
    std::string message(int ev) const override {
        switch (static_cast<redis_errc>(ev)) {
            case redis_errc::not_ready:
                return "no Redis link at the moment (connecting or waiting to reconnect)";
            case redis_errc::timeout:
                return "no answer from Redis within the command timeout (the link is re-made)";
            case redis_errc::connection_lost:
                return "the Redis link dropped with the command in flight";
            case redis_errc::stopped:
                return "the Redis connection was stopped";
            case redis_errc::server_error:
                return "Redis answered an error";
            case redis_errc::protocol:
                return "the Redis answer could not be parsed";
        }
        return "unknown Redis error";
    }
};

}  // namespace

redis_reply copy_reply(const redisReply& r) {
    redis_reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.type = r.type == REDIS_REPLY_STRING   ? redis_reply::kind::string
                       : r.type == REDIS_REPLY_STATUS ? redis_reply::kind::status
                                                      : redis_reply::kind::error;
            out.str.assign(r.str, r.len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = redis_reply::kind::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = redis_reply::kind::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(copy_reply(*r.element[i]));
            break;
        default:
            break;  // REDIS_REPLY_NIL
    }
    return out;
}

const boost::system::error_category& redis_category() noexcept {
    static const redis_category_impl category;
    return category;
}

}  // namespace cbs::detail
