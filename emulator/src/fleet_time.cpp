// cbs-async emulator: time in the fleet. The wall clock of the times in
// responses, each group's timeline (duration, failure, Percent curve), and
// the state changes that fall due as steady time passes.
#include "fleet_detail.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace cbs::emu::detail {

namespace {

std::string format_unix(std::int64_t unix_seconds) {
    using namespace std::chrono;
    const sys_seconds t{seconds{unix_seconds}};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

void fleet_impl::observe(clock::time_point now) {
    if (!steady_origin) {
        steady_origin = now;
        // The first request stands for the system clock's time at that moment.
        const auto sys_now = cfg.system_now ? cfg.system_now() : std::chrono::system_clock::now();
        wall_origin_ms = std::chrono::duration_cast<std::chrono::milliseconds>(sys_now.time_since_epoch()).count();
    }
    if (now > latest_now) latest_now = now;
    settle(now);
}

clock::duration fleet_impl::scaled(clock::duration d) const {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(d) * cfg.time_scale);
}

void fleet_impl::settle(clock::time_point now) {
    settle_rollbacks(now);
    // Groups that fail: their member snapshots go away at the failure time.
    while (!failing.empty() && failing.begin()->first <= now) {
        const auto seq = failing.begin()->second;
        failing.erase(failing.begin());
        if (auto it = groups.find(seq); it != groups.end()) drop_snapshots(it->second);
    }
    // Disks whose migration, rollback, attach or detach is under way.
    for (std::size_t i = 0; i < changing.size();) {
        disk& d = disks[changing[i]];
        const auto from = at_offset(d.change_from), to = at_offset(d.change_to);
        if (now >= to) {
            switch (d.change) {
                case change_kind::migrating:
                    d.migrating = false;
                    d.migrate_percent = 0;
                    break;
                case change_kind::rollbacking:
                    d.rollbacking = false;
                    d.rollback_percent = 0;
                    d.state = "ATTACHED";
                    break;
                case change_kind::attaching:
                    d.state = "ATTACHED";
                    break;
                case change_kind::detaching:
                    d.state = "UNATTACHED";
                    move_disk(d, "");
                    break;
                case change_kind::none:
                    break;
            }
            d.change = change_kind::none;
            changing[i] = changing.back();
            changing.pop_back();
            continue;
        }
        const double span = std::chrono::duration<double>(to - from).count();
        const double done = std::chrono::duration<double>(now - from).count();
        const int p = span > 0 ? std::clamp(static_cast<int>(100.0 * done / span), 1, 99) : 99;
        if (d.change == change_kind::migrating) d.migrate_percent = p;
        if (d.change == change_kind::rollbacking) d.rollback_percent = p;
        ++i;
    }
}

void fleet_impl::drop_snapshots(group& g) {
    for (const auto& sid : g.snapshot_ids) {
        auto sit = snapshot_by_id.find(sid);
        if (sit == snapshot_by_id.end()) continue;  // already gone (a failed group)
        const snapshot& s = snapshots.at(sit->second);
        if (auto d = disk_by_id.find(s.disk_id); d != disk_by_id.end()) --disks[d->second].snapshot_count;
        auto& by_disk = snapshots_by_disk[s.disk_id];
        by_disk.erase(s.seq);
        if (by_disk.empty()) snapshots_by_disk.erase(s.disk_id);
        snapshots.erase(sit->second);
        snapshot_by_id.erase(sit);
    }
}

void fleet_impl::draw_timeline(group& g, clock::time_point now) {
    g.created = now;
    double factor = 1.0;
    if (cfg.uneven_creation) {
        // Long tail: most groups near creating_time, some ten times longer,
        // a few up to a hundred times (minutes with the default 3 s).
        const double u = timing.unit();
        if (u < 0.85)
            factor = 0.5 + 1.5 * timing.unit();  // 0.5-2
        else if (u < 0.98)
            factor = 2.0 * std::pow(10.0, timing.unit());  // 2-20
        else
            factor = 20.0 * std::pow(5.0, timing.unit());  // 20-100
        // Percent rises unevenly: three seeded knots, sorted.
        std::array<double, 3> ts{timing.unit(), timing.unit(), timing.unit()};
        std::array<double, 3> ps{99 * timing.unit(), 99 * timing.unit(), 99 * timing.unit()};
        std::sort(ts.begin(), ts.end());
        std::sort(ps.begin(), ps.end());
        for (std::size_t i = 0; i < 3; ++i) g.knots.emplace_back(ts[i], ps[i]);
    }
    const auto duration = scaled(std::chrono::duration_cast<clock::duration>(cfg.creating_time * factor));
    g.nominal_end = now + duration;
    g.fails = cfg.failed_fraction > 0 && timing.chance(cfg.failed_fraction);
    if (g.fails) {
        // It fails part way through, at 20-90% of its nominal time.
        const double at = 0.2 + 0.7 * timing.unit();
        g.ready_at = now + std::chrono::duration_cast<clock::duration>(duration * at);
        failing.emplace(g.ready_at, g.seq);
    } else {
        g.ready_at = g.nominal_end;
    }
}

int fleet_impl::percent(const group& g, clock::time_point now) const {
    if (!creating(g, now) && !g.fails) return 100;
    const auto t = std::min(now, g.ready_at);  // a failed group's Percent stops where it failed
    if (t <= g.created) return 0;
    const double total = std::chrono::duration<double>(g.nominal_end - g.created).count();
    if (total <= 0) return 0;
    const double x = std::chrono::duration<double>(t - g.created).count() / total;
    double y = 100.0 * x;
    if (!g.knots.empty()) {
        // Piecewise linear through (0,0), the knots, (1,100).
        double x0 = 0, y0 = 0;
        y = 100.0;
        for (std::size_t i = 0; i <= g.knots.size(); ++i) {
            const double x1 = i < g.knots.size() ? g.knots[i].first : 1.0;
            const double y1 = i < g.knots.size() ? g.knots[i].second : 100.0;
            if (x <= x1) {
                y = x1 > x0 ? y0 + (y1 - y0) * (x - x0) / (x1 - x0) : y1;
                break;
            }
            x0 = x1;
            y0 = y1;
        }
    }
    const int p = static_cast<int>(y);
    return std::clamp(p, 0, 99);  // never 100 before NORMAL
}

std::string fleet_impl::wall_time(clock::time_point t) const {
    const auto origin = steady_origin.value_or(t);
    const auto offset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - origin).count();
    const auto zone_s = std::chrono::duration_cast<std::chrono::seconds>(cfg.utc_offset).count();
    return format_unix(floor_div(wall_origin_ms + offset_ms, 1000) + zone_s);
}

std::string fleet_impl::disk_create_time(const disk& d) const {
    const auto zone_s = std::chrono::duration_cast<std::chrono::seconds>(cfg.utc_offset).count();
    return format_unix(floor_div(wall_origin_ms, 1000) - d.age_seconds + zone_s);
}

std::string fleet_impl::disk_deadline_time(const disk& d) const {
    const auto zone_s = std::chrono::duration_cast<std::chrono::seconds>(cfg.utc_offset).count();
    return format_unix(floor_div(wall_origin_ms, 1000) + d.prepaid_seconds_left + zone_s);
}

}  // namespace cbs::emu::detail
