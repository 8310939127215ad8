// The one translation unit that compiles Boost.Asio, Asio.SSL and Beast
// (separate compilation). Everything else sees declarations only, so touching
// any other file rebuilds in seconds.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
