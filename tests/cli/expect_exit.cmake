# Runs CMD with ARGS (a ;-list) and fails unless it exits with exactly EXPECT_CODE and, when given,
# its stderr matches the regex EXPECT_STDERR and its stdout the regex EXPECT_STDOUT. A crash never
# passes: execute_process reports a signal as a string such as "Subprocess aborted", not a number.
#   cmake -DCMD=prog "-DARGS=a;b" -DEXPECT_CODE=2 [-DEXPECT_STDERR=re] [-DEXPECT_STDOUT=re]
#         [-DWORKING_DIR=dir] -P expect_exit.cmake
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED CMD OR NOT DEFINED EXPECT_CODE)
  message(FATAL_ERROR "expect_exit.cmake: CMD and EXPECT_CODE are required")
endif()
if(NOT DEFINED WORKING_DIR)
  set(WORKING_DIR "${CMAKE_CURRENT_BINARY_DIR}")
endif()

execute_process(
  COMMAND "${CMD}" ${ARGS}
  WORKING_DIRECTORY "${WORKING_DIR}"
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

set(problems "")
if(NOT exit_code STREQUAL "${EXPECT_CODE}")
  string(APPEND problems "  exit code: expected ${EXPECT_CODE}, got \"${exit_code}\"\n")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  string(APPEND problems "  stderr does not match the regex: ${EXPECT_STDERR}\n")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
  string(APPEND problems "  stdout does not match the regex: ${EXPECT_STDOUT}\n")
endif()

if(problems)
  string(REPLACE ";" " " shown_args "${ARGS}")
  message(FATAL_ERROR "FAILED: ${CMD} ${shown_args}\n${problems}--- stdout ---\n${out}--- stderr ---\n${err}")
endif()
message(STATUS "exit ${exit_code} as expected; stderr:\n${err}")
