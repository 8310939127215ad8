// In-memory test PKI: a private CA plus a server certificate signed by it.
// The implementation lives in the emulator (cbs/emulator/pki.hpp, which
// documents it); the tests keep using the names cbs::test::pki & co.
#pragma once

#include <cbs/emulator/pki.hpp>

namespace cbs::test {

using cbs::emu::default_pki;
using cbs::emu::other_ca_pki;
using cbs::emu::other_host_pki;
using cbs::emu::pki;

}  // namespace cbs::test
