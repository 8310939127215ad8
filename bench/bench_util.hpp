// Shared by the benchmarks: median/min/max of repeated runs, and the JSON file
// each benchmark writes next to its table when given `--json FILE` (bench/run
// gathers them into one file for comparisons between commits).
#pragma once

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cbs_bench {

/// A figure measured over several runs.
struct stat3 {
    double median = 0, min = 0, max = 0;
};

/// Median (the upper middle one for an even count), min and max; zeros for no runs.
inline stat3 summarize(std::vector<double> v) {
    if (v.empty()) return {};
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

/// "median (min-max)", each printed with the printf format `f`.
inline std::string fmt3(const stat3& s, const char* f) {
    char a[32], b[32], c[32];
    std::snprintf(a, sizeof a, f, s.median);
    std::snprintf(b, sizeof b, f, s.min);
    std::snprintf(c, sizeof c, f, s.max);
    return std::string(a) + " (" + b + "-" + c + ")";
}

inline boost::json::object to_json(const stat3& s) {
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}};
}

inline boost::json::object to_json(const std::vector<double>& runs) {
    auto o = to_json(summarize(runs));
    boost::json::array all;
    for (double r : runs) all.push_back(r);
    o["runs"] = std::move(all);
    return o;
}

/// Writes `v` to `path` whole: to a temporary name first, then renamed, so a
/// crashed or interrupted benchmark leaves no half-written file behind.
inline void write_json(const std::string& path, const boost::json::value& v) {
    if (path.empty()) return;
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << boost::json::serialize(v) << '\n';
        if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

}  // namespace cbs_bench
