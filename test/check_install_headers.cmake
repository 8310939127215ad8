# ctest install_tree_has_no_io_headers: installs the build into a fresh
# prefix and fails if an installed header includes Beast, OpenSSL, Asio's SSL
# or hiredis directly, or is one of src/redis's. Users compile every installed
# header; those libraries are the transport's business (src/net/private,
# src/redis), not theirs.
#   cmake -DBUILD_DIR=<build tree> -DPREFIX=<scratch dir> -P check_install_headers.cmake
if(NOT BUILD_DIR OR NOT PREFIX)
  message(FATAL_ERROR "usage: cmake -DBUILD_DIR=... -DPREFIX=... -P check_install_headers.cmake")
endif()
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} failed (${rc}):\n${out}")
endif()

file(GLOB_RECURSE headers LIST_DIRECTORIES false "${PREFIX}/include/*")
list(LENGTH headers count)
if(count EQUAL 0)
  message(FATAL_ERROR "no header installed under ${PREFIX}/include")
endif()
set(bad "")
foreach(h IN LISTS headers)
  file(STRINGS "${h}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](boost/beast|openssl/|boost/asio/ssl|hiredis/|redis_)")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH rel "${PREFIX}" "${h}")
    string(APPEND bad "  ${rel}: ${line}\n")
  endforeach()
endforeach()
# hiredis and the Redis connection (src/redis) are private to the library too.
foreach(h IN LISTS headers)
  if(h MATCHES "/(hiredis|redis_[^/]*\\.hpp)")
    file(RELATIVE_PATH rel "${PREFIX}" "${h}")
    string(APPEND bad "  ${rel}: installed\n")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "installed headers include Beast/OpenSSL/Asio SSL/hiredis (move them to src/net/private or src/redis):\n${bad}")
endif()
message(STATUS "${count} installed headers, none includes Beast, OpenSSL, Asio SSL or hiredis")
