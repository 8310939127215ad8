// cbs-async emulator: a fleet's state to JSON and back (persist_state).
//
// Steady times mean nothing in another process, so every time is written as
// unix milliseconds through the fleet's wall-clock mapping and read back
// through the new process's: a group CREATING or ROLLBACKING when saved
// finishes by the wall time elapsed since, as it would have without the
// restart. Indexes (by id, by name, by disk) are rebuilt, not saved.
#include "fleet_detail.hpp"

#include <stdexcept>

namespace cbs::emu::detail {

namespace {

constexpr const char* change_names[] = {"none", "migrating", "rollbacking", "attaching", "detaching"};

/// Reads one JSON object, naming the path of what is missing or wrong.
class reader {
public:
    reader(const json::value& v, std::string path) : path_(std::move(path)) {
        if (!v.is_object()) throw std::runtime_error(path_ + " is not an object");
        obj_ = &v.get_object();
    }
    reader(const json::object& o, std::string path) : obj_(&o), path_(std::move(path)) {}
    const json::value& at(std::string_view k) const {
        auto it = obj_->find(k);
        if (it == obj_->end()) bad(k, "is missing");
        return it->value();
    }
    std::string str(std::string_view k) const {
        const auto& v = at(k);
        if (!v.is_string()) bad(k, "is not a string");
        return std::string(v.get_string());
    }
    std::int64_t i64(std::string_view k) const {
        const auto& v = at(k);
        if (v.is_int64()) return v.get_int64();
        if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
            return static_cast<std::int64_t>(v.get_uint64());
        bad(k, "is not an integer");
    }
    std::uint64_t u64(std::string_view k) const {
        const auto& v = at(k);
        if (v.is_uint64()) return v.get_uint64();
        if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
        bad(k, "is not an unsigned integer");
    }
    bool boolean(std::string_view k) const {
        const auto& v = at(k);
        if (!v.is_bool()) bad(k, "is not a boolean");
        return v.get_bool();
    }
    double number(std::string_view k) const {
        const auto& v = at(k);
        if (!v.is_number()) bad(k, "is not a number");
        return v.to_number<double>();
    }
    const json::array& arr(std::string_view k) const {
        const auto& v = at(k);
        if (!v.is_array()) bad(k, "is not an array");
        return v.get_array();
    }
    std::vector<std::string> strings(std::string_view k) const {
        std::vector<std::string> out;
        for (const auto& e : arr(k)) {
            if (!e.is_string()) bad(k, "holds something other than strings");
            out.emplace_back(e.get_string());
        }
        return out;
    }
    bool has(std::string_view k) const { return obj_->contains(k) && !obj_->at(k).is_null(); }
    std::string sub(std::string_view k, std::size_t i) const {
        return path_ + "." + std::string(k) + "[" + std::to_string(i) + "]";
    }
    std::string sub(std::string_view k) const { return path_ + "." + std::string(k); }
    [[noreturn]] void bad(std::string_view k, const std::string& what) const {
        throw std::runtime_error(path_ + "." + std::string(k) + " " + what);
    }

private:
    const json::object* obj_ = nullptr;
    std::string path_;
};

json::array tags_json(const std::vector<tag>& tags) {
    json::array a;
    for (const auto& t : tags) a.push_back(json::array{json::value(t.key), json::value(t.value)});
    return a;
}

std::vector<tag> read_tags(const reader& r, std::string_view k) {
    std::vector<tag> out;
    for (const auto& e : r.arr(k)) {
        if (!e.is_array() || e.get_array().size() != 2 || !e.get_array()[0].is_string() ||
            !e.get_array()[1].is_string())
            r.bad(k, "holds a tag that is not [key, value]");
        out.push_back(tag{std::string(e.get_array()[0].get_string()), std::string(e.get_array()[1].get_string())});
    }
    return out;
}

json::array strings_json(const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

json::object fleet_impl::save(clock::time_point now) const {
    // The wall-clock mapping: the fleet's own once fixed, else `now` stands for the system clock's now.
    const auto origin = steady_origin.value_or(now);
    const std::int64_t wall =
        steady_origin ? wall_origin_ms
                      : std::chrono::duration_cast<std::chrono::milliseconds>(
                            (cfg.system_now ? cfg.system_now() : std::chrono::system_clock::now()).time_since_epoch())
                            .count();
    auto unix_ms = [&](clock::time_point t) -> json::value {
        if (t == clock::time_point{}) return nullptr;  // never set (e.g. a disk never busy)
        return wall + std::chrono::duration_cast<std::chrono::milliseconds>(t - origin).count();
    };
    auto offset_ms = [&](clock::duration d) {
        return wall + std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    const std::int64_t disk_wall_s = floor_div(wall_origin_ms, 1000);

    json::array ins;
    for (const auto& id : instances) {
        const auto& info = instance_by_id.at(id);
        ins.push_back(json::object{
            {"id", id}, {"name", info.name}, {"ip", info.ip}, {"tags", tags_json(info.tags)}, {"state", info.state}});
    }
    json::array ds;
    for (const auto& d : disks) {
        json::object j{{"id", d.id},
                       {"name", d.name},
                       {"instance_id", d.instance_id},
                       {"usage", d.usage},
                       {"type", d.type},
                       {"state", d.state},
                       {"zone", d.zone},
                       {"charge_type", d.charge_type},
                       {"project_id", d.project_id},
                       {"tags", tags_json(d.tags)},
                       {"snapshot_ability", d.snapshot_ability},
                       {"migrating", d.migrating},
                       {"rollbacking", d.rollbacking},
                       {"encrypt", d.encrypt},
                       {"migrate_percent", d.migrate_percent},
                       {"rollback_percent", d.rollback_percent},
                       {"size_gib", d.size_gib},
                       {"create_unix_s", disk_wall_s - d.age_seconds},
                       {"deadline_unix_s", disk_wall_s + d.prepaid_seconds_left},
                       {"change", change_names[static_cast<int>(d.change)]},
                       {"change_from_ms", offset_ms(d.change_from)},
                       {"change_to_ms", offset_ms(d.change_to)},
                       {"busy_until_ms", unix_ms(d.busy_until)},
                       {"restored_from", d.restored_from}};
        ds.push_back(std::move(j));
    }
    json::array gs;
    for (const auto& [seq, g] : groups) {
        json::array knots;
        for (const auto& [t, p] : g.knots) knots.push_back(json::array{t, p});
        json::value rolling = nullptr;
        if (g.rolling) {
            json::array pairs;
            for (const auto& [s, d] : g.rolling->pairs) pairs.push_back(json::array{json::value(s), json::value(d)});
            rolling = json::object{{"from_ms", unix_ms(g.rolling->from)},
                                   {"to_ms", unix_ms(g.rolling->to)},
                                   {"instance_id", g.rolling->instance_id},
                                   {"auto_start", g.rolling->auto_start},
                                   {"pairs", std::move(pairs)}};
        }
        gs.push_back(json::object{{"seq", g.seq},
                                  {"id", g.id},
                                  {"name", g.name},
                                  {"instance_id", g.instance_id},
                                  {"disk_ids", strings_json(g.disk_ids)},
                                  {"snapshot_ids", strings_json(g.snapshot_ids)},
                                  {"tags", tags_json(g.tags)},
                                  {"contains_root", g.contains_root},
                                  {"fails", g.fails},
                                  {"created_ms", unix_ms(g.created)},
                                  {"ready_at_ms", unix_ms(g.ready_at)},
                                  {"nominal_end_ms", unix_ms(g.nominal_end)},
                                  {"knots", std::move(knots)},
                                  {"rolling", std::move(rolling)}});
    }
    json::array ss;
    for (const auto& [seq, s] : snapshots)
        ss.push_back(json::object{{"seq", s.seq},
                                  {"id", s.id},
                                  {"name", s.name},
                                  {"disk_id", s.disk_id},
                                  {"group_id", s.group_id},
                                  {"created_ms", unix_ms(s.created)},
                                  {"ready_at_ms", unix_ms(s.ready_at)}});
    return json::object{{"random", random.state()},    {"timing", timing.state()}, {"next_seq", next_seq},
                        {"instances", std::move(ins)}, {"disks", std::move(ds)},   {"groups", std::move(gs)},
                        {"snapshots", std::move(ss)}};
}

void fleet_impl::load(const json::object& saved, clock::time_point now) {
    // The new mapping: `now` stands for the system clock's now.
    const auto sys_now = cfg.system_now ? cfg.system_now() : std::chrono::system_clock::now();
    wall_origin_ms = std::chrono::duration_cast<std::chrono::milliseconds>(sys_now.time_since_epoch()).count();
    steady_origin = now;
    latest_now = now;
    const std::int64_t wall_s = floor_div(wall_origin_ms, 1000);
    auto time_at = [&](const reader& r, std::string_view k) -> clock::time_point {
        if (!r.has(k)) return clock::time_point{};
        return now + std::chrono::milliseconds(r.i64(k) - wall_origin_ms);
    };
    auto offset_of = [&](const reader& r, std::string_view k) -> clock::duration {
        return std::chrono::milliseconds(r.i64(k) - wall_origin_ms);
    };

    const reader top(saved, "state");
    random.restore(top.u64("random"));
    timing.restore(top.u64("timing"));
    next_seq = top.u64("next_seq");
    auto claim = [&](const std::string& id, const reader& r) {
        if (id.empty()) r.bad("id", "is empty");
        used_ids->ids.insert(id);
    };
    const auto& ins = top.arr("instances");
    for (std::size_t i = 0; i < ins.size(); ++i) {
        const reader r(ins[i], top.sub("instances", i));
        const auto id = r.str("id");
        claim(id, r);
        instance_info info{r.str("name"), r.str("ip"), read_tags(r, "tags"), r.str("state")};
        if (info.state != "RUNNING" && info.state != "STOPPED") r.bad("state", "is not RUNNING or STOPPED");
        if (!instance_by_id.emplace(id, std::move(info)).second) r.bad("id", "is given twice");
        instances.push_back(id);
    }
    const auto& ds = top.arr("disks");
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const reader r(ds[i], top.sub("disks", i));
        disk d;
        d.ordinal = disks.size();
        d.id = r.str("id");
        claim(d.id, r);
        d.name = r.str("name");
        d.instance_id = r.str("instance_id");
        if (!d.instance_id.empty() && !instance_by_id.count(d.instance_id))
            r.bad("instance_id", "names an unknown instance");
        d.usage = r.str("usage");
        d.type = r.str("type");
        d.state = r.str("state");
        d.zone = r.str("zone");
        d.charge_type = r.str("charge_type");
        d.project_id = r.i64("project_id");
        d.tags = read_tags(r, "tags");
        d.snapshot_ability = r.boolean("snapshot_ability");
        d.migrating = r.boolean("migrating");
        d.rollbacking = r.boolean("rollbacking");
        d.encrypt = r.boolean("encrypt");
        d.migrate_percent = static_cast<int>(r.i64("migrate_percent"));
        d.rollback_percent = static_cast<int>(r.i64("rollback_percent"));
        d.size_gib = r.i64("size_gib");
        d.age_seconds = wall_s - r.i64("create_unix_s");
        d.prepaid_seconds_left = r.i64("deadline_unix_s") - wall_s;
        const auto change = r.str("change");
        const auto* it = std::find(std::begin(change_names), std::end(change_names), change);
        if (it == std::end(change_names)) r.bad("change", "is not a known change");
        d.change = static_cast<change_kind>(it - std::begin(change_names));
        d.change_from = offset_of(r, "change_from_ms");
        d.change_to = offset_of(r, "change_to_ms");
        d.busy_until = time_at(r, "busy_until_ms");
        d.restored_from = r.str("restored_from");
        if (!disk_by_id.emplace(d.id, d.ordinal).second) r.bad("id", "is given twice");
        disks_by_instance[d.instance_id].push_back(d.ordinal);
        if (d.change != change_kind::none) changing.push_back(d.ordinal);
        disks.push_back(std::move(d));
    }
    const auto& ss = top.arr("snapshots");
    for (std::size_t i = 0; i < ss.size(); ++i) {
        const reader r(ss[i], top.sub("snapshots", i));
        snapshot s{r.u64("seq"),
                   r.str("id"),
                   r.str("name"),
                   r.str("disk_id"),
                   r.str("group_id"),
                   time_at(r, "created_ms"),
                   time_at(r, "ready_at_ms")};
        claim(s.id, r);
        if (!disk_by_id.count(s.disk_id)) r.bad("disk_id", "names an unknown disk");
        if (!snapshot_by_id.emplace(s.id, s.seq).second) r.bad("id", "is given twice");
        snapshots_by_disk[s.disk_id].insert(s.seq);
        ++disks[disk_by_id.at(s.disk_id)].snapshot_count;
        if (!snapshots.emplace(s.seq, std::move(s)).second) r.bad("seq", "is given twice");
    }
    const auto& gs = top.arr("groups");
    for (std::size_t i = 0; i < gs.size(); ++i) {
        const reader r(gs[i], top.sub("groups", i));
        group g;
        g.seq = r.u64("seq");
        g.id = r.str("id");
        claim(g.id, r);
        g.name = r.str("name");
        g.instance_id = r.str("instance_id");
        g.disk_ids = r.strings("disk_ids");
        g.snapshot_ids = r.strings("snapshot_ids");
        if (g.disk_ids.size() != g.snapshot_ids.size()) r.bad("snapshot_ids", "does not match disk_ids");
        for (const auto& d : g.disk_ids)
            if (!disk_by_id.count(d)) r.bad("disk_ids", "names an unknown disk `" + d + "`");
        g.tags = read_tags(r, "tags");
        g.contains_root = r.boolean("contains_root");
        g.fails = r.boolean("fails");
        g.created = time_at(r, "created_ms");
        g.ready_at = time_at(r, "ready_at_ms");
        g.nominal_end = time_at(r, "nominal_end_ms");
        for (const auto& k : r.arr("knots")) {
            if (!k.is_array() || k.get_array().size() != 2 || !k.get_array()[0].is_number() ||
                !k.get_array()[1].is_number())
                r.bad("knots", "holds a knot that is not [time, percent]");
            g.knots.emplace_back(k.get_array()[0].to_number<double>(), k.get_array()[1].to_number<double>());
        }
        if (r.has("rolling")) {
            const reader rr(r.at("rolling"), r.sub("rolling"));
            rollback rb{
                time_at(rr, "from_ms"), time_at(rr, "to_ms"), rr.str("instance_id"), rr.boolean("auto_start"), {}};
            for (const auto& p : rr.arr("pairs")) {
                if (!p.is_array() || p.get_array().size() != 2 || !p.get_array()[0].is_string() ||
                    !p.get_array()[1].is_string() || !disk_by_id.count(std::string(p.get_array()[1].get_string())))
                    rr.bad("pairs", "holds a pair that is not [snapshot id, known disk id]");
                rb.pairs.emplace_back(p.get_array()[0].get_string(), p.get_array()[1].get_string());
            }
            rollbacks.emplace(rb.to, g.seq);
            g.rolling = std::move(rb);
        }
        // A failing group whose snapshots are still there drops them when its time comes.
        if (g.fails && std::any_of(g.snapshot_ids.begin(), g.snapshot_ids.end(),
                                   [&](const auto& s) { return snapshot_by_id.count(s) != 0; }))
            failing.emplace(g.ready_at, g.seq);
        for (const auto& s : g.snapshot_ids)
            if (auto it = snapshot_by_id.find(s);
                it != snapshot_by_id.end() && snapshots.at(it->second).group_id != g.id)
                r.bad("snapshot_ids", "names the snapshot `" + s + "` of another group");
        if (!group_by_id.emplace(g.id, g.seq).second) r.bad("id", "is given twice");
        groups_by_name[g.name].insert(g.seq);
        if (!groups.emplace(g.seq, std::move(g)).second) r.bad("seq", "is given twice");
    }
    for (const auto& [seq, s] : snapshots)
        if (!group_by_id.count(s.group_id))
            throw std::runtime_error("state.snapshots: the snapshot `" + s.id + "` names an unknown group");
    if (next_seq <= (groups.empty() ? 0 : groups.rbegin()->first) ||
        next_seq <= (snapshots.empty() ? 0 : snapshots.rbegin()->first))
        throw std::runtime_error("state.next_seq is not above every group and snapshot seq");
    settle(now);  // what finished while the emulator was down
}

}  // namespace cbs::emu::detail

namespace cbs::emu {

boost::json::object fleet_state::save(clock::time_point now) const {
    return impl_->save(now);
}

fleet_state fleet_state::load(const fleet_params& params, const boost::json::object& saved,
                              std::shared_ptr<id_registry> ids, clock::time_point now) {
    if (!ids) throw std::invalid_argument("fleet_state: null id registry");
    auto i = std::make_shared<impl>(params, std::move(ids), detail::fleet_impl::unbuilt{});
    i->load(saved, now);
    return fleet_state(std::move(i));
}

}  // namespace cbs::emu
