# Extracts the C++ snippets of a Markdown file into translation units.
#
# Every ```cpp block must be preceded, on the line just above its fence, by a
# marker that says what to do with it:
#
#   <!-- snippet: compile -->               a whole translation unit as written
#   <!-- snippet: function(PARAMS) -->      statements: the body of `void f(PARAMS)`
#   <!-- snippet: coroutine(PARAMS) -->     statements: the body of
#                                           `boost::asio::awaitable<void> f(PARAMS)`
#   <!-- snippet: skip REASON -->           not compiled (REASON says why)
#
# `compile` snippets get nothing added but their own #include lines, so they
# show every include they need. `function` and `coroutine` snippets get a
# prelude that includes every public header (include/cbs/*.hpp and the
# emulator's) and the usual Asio and standard headers. The #include lines of
# a snippet go first; the rest goes into a namespace of its own, so snippets
# may reuse names (even `main`). Each unit starts with #line, so a compiler
# error names the Markdown file and line.
#
# cbs_extract_snippets(MD OUT_DIR PREFIX OUT_VAR) writes OUT_DIR/PREFIX_<line>.cpp
# for every compiled snippet and appends their paths to OUT_VAR. A block
# without a marker, or a marker it does not know, is an error (SEND_ERROR:
# the configuration fails).

function(cbs_extract_snippets md out_dir prefix out_var)
  file(READ "${md}" text)
  # CMake lists split on ';' and treat '[' ']' and '\' specially: hide them
  # while the file is a list of lines.
  string(REPLACE "\\" "@CBS_BS@" text "${text}")
  string(REPLACE ";" "@CBS_SC@" text "${text}")
  string(REPLACE "[" "@CBS_LB@" text "${text}")
  string(REPLACE "]" "@CBS_RB@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")

  set(generated "${${out_var}}")
  set(lineno 0)
  set(prev "")
  set(in_block FALSE)
  set(in_other_fence FALSE)
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    if(in_block)
      if(line MATCHES "^```[ \t]*$")
        set(in_block FALSE)
        if(NOT kind STREQUAL "skip")
          _cbs_write_snippet("${md}" "${out_dir}/${prefix}_${start}.cpp" "${kind}" "${params}" "${start}"
                             "${includes}" "${body}" "${prefix}_${start}")
          list(APPEND generated "${out_dir}/${prefix}_${start}.cpp")
        endif()
      elseif(line MATCHES "^#include")
        string(APPEND includes "${line}\n")
        string(APPEND body "\n")  # keeps the line numbers of the body right
      else()
        string(APPEND body "${line}\n")
      endif()
    elseif(in_other_fence)
      if(line MATCHES "^```[ \t]*$")
        set(in_other_fence FALSE)
      endif()
    elseif(line MATCHES "^```cpp[ \t]*$")
      set(in_block TRUE)
      math(EXPR start "${lineno} + 1")
      set(includes "")
      set(body "")
      set(params "")
      if(prev MATCHES "^<!-- snippet: compile -->$")
        set(kind compile)
      elseif(prev MATCHES "^<!-- snippet: (function|coroutine)\\((.*)\\) -->$")
        set(kind "${CMAKE_MATCH_1}")
        set(params "${CMAKE_MATCH_2}")
      elseif(prev MATCHES "^<!-- snippet: skip:? +[^ ].* -->$")
        set(kind skip)
      else()
        set(kind skip)
        message(SEND_ERROR
          "${md}:${lineno}: a ```cpp block needs a marker on the line above it: "
          "<!-- snippet: compile -->, <!-- snippet: function(PARAMS) -->, "
          "<!-- snippet: coroutine(PARAMS) --> or <!-- snippet: skip REASON --> "
          "(see test/docs/extract_snippets.cmake)")
      endif()
    elseif(line MATCHES "^```")
      set(in_other_fence TRUE)
    endif()
    set(prev "${line}")
  endforeach()
  if(in_block)
    message(SEND_ERROR "${md}:${start}: a ```cpp block is not closed")
  endif()
  set(${out_var} "${generated}" PARENT_SCOPE)
endfunction()

function(_cbs_unhide var)
  set(t "${${var}}")
  string(REPLACE "@CBS_RB@" "]" t "${t}")
  string(REPLACE "@CBS_LB@" "[" t "${t}")
  string(REPLACE "@CBS_SC@" ";" t "${t}")
  string(REPLACE "@CBS_BS@" "\\" t "${t}")
  set(${var} "${t}" PARENT_SCOPE)
endfunction()

function(_cbs_write_snippet md out kind params start includes body name)
  _cbs_unhide(includes)
  _cbs_unhide(body)
  _cbs_unhide(params)
  set(prelude "")
  if(NOT kind STREQUAL "compile")
    set(prelude "#include \"prelude.hpp\"\n")
  endif()
  set(src "// Generated from ${md}:${start} by test/docs/extract_snippets.cmake; edit the Markdown.\n")
  string(APPEND src "${prelude}#line ${start} \"${md}\"\n${includes}")
  string(APPEND src "namespace cbs_doc_snippet_${name} {\n")
  if(kind STREQUAL "function")
    string(APPEND src "void snippet(${params}) {\n#line ${start} \"${md}\"\n${body}}\n")
  elseif(kind STREQUAL "coroutine")
    string(APPEND src "boost::asio::awaitable<void> snippet(${params}) {\n#line ${start} \"${md}\"\n${body}co_return;\n}\n")
  else()
    string(APPEND src "#line ${start} \"${md}\"\n${body}")
  endif()
  string(APPEND src "}  // namespace cbs_doc_snippet_${name}\n")
  # Written only when it changed, so an unchanged snippet is not rebuilt.
  set(old "")
  if(EXISTS "${out}")
    file(READ "${out}" old)
  endif()
  if(NOT old STREQUAL src)
    file(WRITE "${out}" "${src}")
  endif()
endfunction()
