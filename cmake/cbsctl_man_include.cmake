# Writes ${OUT}, a help2man include file with one section per cbsctl command
# ("CBSCTL SNAPSHOT-FLEET", "CBSCTL GROUPS LIST", ...) holding that command's
# --help, as roff. The commands are read from the "Subcommands:" part of
# `${CBSCTL} --help`, recursively (groups -> list, show, delete), so a new
# command gets its section without touching this file.
#
#   cmake -DCBSCTL=path/to/cbsctl -DOUT=cbsctl.h2m -P cbsctl_man_include.cmake
cmake_minimum_required(VERSION 3.20)

if(NOT CBSCTL OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DCBSCTL=<cbsctl> -DOUT=<file> -P cbsctl_man_include.cmake")
endif()

# The --help text of `cbsctl ${ARGN}` as a CMake list of lines. ';', '[' and
# ']' would upset CMake's lists: they travel as placeholders until the file
# is written.
function(help_lines out_var)
  execute_process(
    COMMAND "${CBSCTL}" ${ARGN} --help
    OUTPUT_VARIABLE text
    ERROR_VARIABLE err
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cbsctl ${ARGN} --help exited ${rc}: ${err}")
  endif()
  string(REPLACE ";" "@SEMI@" text "${text}")
  string(REPLACE "[" "@LSQB@" text "${text}")
  string(REPLACE "]" "@RSQB@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(${out_var} "${lines}" PARENT_SCOPE)
endfunction()

# Subcommand names listed under "Subcommands:" in `lines`.
function(subcommands_of out_var lines)
  set(in_list OFF)
  set(names "")
  foreach(line IN LISTS lines)
    if(line STREQUAL "Subcommands:")
      set(in_list ON)
    elseif(in_list AND line MATCHES "^  ([a-z][-a-z0-9]*)( |$)")
      list(APPEND names "${CMAKE_MATCH_1}")
    elseif(in_list AND NOT line MATCHES "^ ")
      set(in_list OFF)
    endif()
  endforeach()
  set(${out_var} "${names}" PARENT_SCOPE)
endfunction()

# Text made safe for roff: backslashes, dashes (so options copy and paste as
# ASCII), a leading '.' or '\''.
function(roff_escape out_var text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "^([.'])" "\\\\&\\1" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# CLI11's help as man markup. CLI11 prints an item ("  --opt TYPE" or a
# subcommand's name) padded to column 30 and its description from there,
# or on the next line indented by 30 when the item is longer: each item
# becomes a .TP, a group header ("Connection:") a .SS, anything else a
# paragraph.
set(column 30)
function(help_to_roff out_var lines)
  set(roff "")
  set(first ON)
  set(seen_header OFF)
  set(footer OFF)
  list(LENGTH lines n)
  set(i 0)
  while(i LESS n)
    list(GET lines ${i} line)
    math(EXPR i "${i} + 1")
    set(next "")
    if(i LESS n)
      list(GET lines ${i} next)
    endif()
    string(LENGTH "${line}" len)
    if(footer)
      # After the options: paragraphs broken by hand. Filled again, except
      # that a labelled line ("Exit status:", "Example:") or an indented one
      # (an example's second line) starts a line of its own.
      if(line STREQUAL "")
        string(APPEND roff ".PP\n")
      else()
        string(STRIP "${line}" text)
        string(FIND "${line}" "${text}" at)
        string(SUBSTRING "${line}" 0 ${at} indent)
        roff_escape(text "${text}")
        string(REPLACE " " "\\ " indent "${indent}")
        if(at GREATER 0 OR text MATCHES "^[A-Z][A-Za-z ]*: ")
          string(APPEND roff ".br\n")
        endif()
        string(APPEND roff "${indent}${text}\n")
      endif()
    elseif(line MATCHES "^  [^ ]")
      # Whole line when the description follows on the next line.
      set(term "${line}")
      set(desc "")
      if(len GREATER column AND NOT next MATCHES "^                              [^ ]")
        string(SUBSTRING "${line}" 0 ${column} term)
        string(SUBSTRING "${line}" ${column} -1 desc)
      endif()
      string(STRIP "${term}" term)
      roff_escape(term "${term}")
      roff_escape(desc "${desc}")
      string(APPEND roff ".TP\n\\fB${term}\\fR\n")
      if(NOT desc STREQUAL "")
        string(APPEND roff "${desc}\n")
      endif()
    elseif(line MATCHES "^ +([^ ].*)$")
      # The description of a long item, or a wrapped line.
      roff_escape(desc "${CMAKE_MATCH_1}")
      string(APPEND roff "${desc}\n")
    elseif(line MATCHES "^([A-Z][A-Za-z ]*):$")
      string(APPEND roff ".SS ${CMAKE_MATCH_1}\n")
      set(seen_header ON)
    elseif(line STREQUAL "")
      string(APPEND roff ".PP\n")
    elseif(seen_header)
      set(footer ON)
      math(EXPR i "${i} - 1") # again, as footer text
    else()
      roff_escape(text "${line}")
      string(APPEND roff "${text}\n")
      if(first)
        # The command's one-line description.
        string(APPEND roff ".PP\n")
      endif()
    endif()
    set(first OFF)
  endwhile()
  # Runs of empty lines make one paragraph break.
  string(REGEX REPLACE "(\\.PP\n)+" ".PP\n" roff "${roff}")
  string(REGEX REPLACE "\\.PP\n(\\.SS )" "\\1" roff "${roff}")
  set(${out_var} "${roff}" PARENT_SCOPE)
endfunction()

set(content "This file was generated by cmake/cbsctl_man_include.cmake from cbsctl's --help.\n\n")
# Breadth first over "a b" command paths (spaces: one level per word).
help_lines(root_lines)
subcommands_of(queue "${root_lines}")
set(count 0)
while(queue)
  list(POP_FRONT queue path)
  string(REPLACE " " ";" args "${path}")
  help_lines(lines ${args})
  subcommands_of(children "${lines}")
  foreach(child IN LISTS children)
    list(APPEND queue "${path} ${child}")
  endforeach()
  string(TOUPPER "cbsctl ${path}" title)
  help_to_roff(roff "${lines}")
  string(APPEND content "[${title}]\n.nh\n${roff}\n")
  math(EXPR count "${count} + 1")
endwhile()
if(count EQUAL 0)
  message(FATAL_ERROR "no subcommands found in `${CBSCTL} --help`")
endif()
string(APPEND content
       "[SEE ALSO]\nThe README of cbs\\-async and its docs/ folder (docs/README.md lists every document; docs/emulator.md describes the CBS emulator).\n")

string(REPLACE "@SEMI@" ";" content "${content}")
string(REPLACE "@LSQB@" "[" content "${content}")
string(REPLACE "@RSQB@" "]" content "${content}")

if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
