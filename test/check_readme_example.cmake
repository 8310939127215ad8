# Fails unless README.md contains examples/create_snapshot_group.cpp verbatim.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "README.md does not contain examples/create_snapshot_group.cpp verbatim; update one of them")
endif()
