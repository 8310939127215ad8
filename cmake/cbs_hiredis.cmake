# Finds hiredis (its pkg-config file as a hint, then find_path/find_library)
# and defines the imported target cbs::hiredis, with CBS_HIREDIS_FOUND.
# Used by the build (CBS_WITH_REDIS) and installed next to the package
# config, which includes it when the static cbs library needs hiredis at
# the consumer's link. The include directory is the parent of hiredis/:
# sources write <hiredis/async.h> (the pkg-config Cflags would put hiredis's
# own sds.h, read.h... on the include path).
if(TARGET cbs::hiredis)
  set(CBS_HIREDIS_FOUND TRUE)
  return()
endif()
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(CBS_PC_HIREDIS QUIET hiredis)
endif()
find_path(CBS_HIREDIS_INCLUDE_DIR hiredis/async.h HINTS ${CBS_PC_HIREDIS_INCLUDEDIR}/..)
find_library(CBS_HIREDIS_LIBRARY hiredis HINTS ${CBS_PC_HIREDIS_LIBDIR} ${CBS_PC_HIREDIS_LIBRARY_DIRS})
mark_as_advanced(CBS_HIREDIS_INCLUDE_DIR CBS_HIREDIS_LIBRARY)
if(CBS_HIREDIS_INCLUDE_DIR AND CBS_HIREDIS_LIBRARY)
  add_library(cbs::hiredis UNKNOWN IMPORTED)
  set_target_properties(cbs::hiredis PROPERTIES
    IMPORTED_LOCATION "${CBS_HIREDIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CBS_HIREDIS_INCLUDE_DIR}")
  set(CBS_HIREDIS_FOUND TRUE)
else()
  set(CBS_HIREDIS_FOUND FALSE)
endif()
