# Writes CTEST_FILE: one ctest entry per doctest TEST_CASE of TEST_EXECUTABLE,
# named as in the source, run with --test-case=<name>. Run after each build
# of a test binary (cbs_doctest_discover in CMakeLists.txt).
#
# Like doctest's own doctest_discover_tests (doctestAddTests.cmake), but test
# names may hold ';' (a CMake list separator: Debian's module splits such a
# name into two bogus tests), and the long cases matching SLOW_REGEX get the
# label `slow`, SLOW_TIMEOUT and a high COST (ctest -j starts the costliest
# first; without it a fresh build directory, as in CI, starts them last and
# the run ends waiting on one of them alone).
#   -D TEST_EXECUTABLE=  -D CTEST_FILE=  -D WORKING_DIR=  -D LABEL=
#   -D TIMEOUT=  -D SLOW_REGEX=  -D SLOW_TIMEOUT=
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-cases --no-colors=true
                OUTPUT_VARIABLE out RESULT_VARIABLE rc WORKING_DIRECTORY "${WORKING_DIR}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --list-test-cases failed (${rc}):\n${out}")
endif()
# Keep a ';' inside a name from splitting the list of lines.
string(REPLACE ";" "<semicolon>" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(script "")
set(count 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^\\[doctest\\] " OR line MATCHES "^=+$")
    continue()
  endif()
  string(REPLACE "<semicolon>" ";" name "${line}")
  # doctest's filters split on ',' unless escaped.
  string(REPLACE "," "\\," filter "${name}")
  set(labels "${LABEL}")
  set(timeout "${TIMEOUT}")
  set(cost "")
  if(NOT SLOW_REGEX STREQUAL "" AND name MATCHES "${SLOW_REGEX}")
    string(APPEND labels ";slow")
    set(timeout "${SLOW_TIMEOUT}")
    set(cost " COST 100")
  endif()
  # Bracket arguments: no list splitting, no escapes.
  string(APPEND script
    "add_test([==[${name}]==] [==[${TEST_EXECUTABLE}]==] [==[--test-case=${filter}]==])\n"
    "set_tests_properties([==[${name}]==] PROPERTIES WORKING_DIRECTORY [==[${WORKING_DIR}]==]"
    " LABELS [==[${labels}]==] TIMEOUT ${timeout}${cost})\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test case")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
