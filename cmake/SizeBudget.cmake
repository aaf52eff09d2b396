# Link launcher of the rigagent target (RULE_LAUNCH_LINK, set by the top-level CMakeLists.txt):
# runs the link command, then measures the stripped size of what it wrote and fails the link
# when that is over the budget. A binary over budget is renamed to <binary>.over-budget (kept
# for tools/size-report.sh and the like), so no build leaves an over-budget rigagent behind and
# the next build links and checks again.
#
#   cmake -DBUDGET=<bytes> -DARCH=<name> -DSTRIP=<strip program> -P SizeBudget.cmake -- <link command...>
cmake_minimum_required(VERSION 3.25)

set(cmd)
set(output)
set(take_output FALSE)
set(seen_dashes FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${last})
  set(arg "${CMAKE_ARGV${i}}")
  if(NOT seen_dashes)
    if(arg STREQUAL "--")
      set(seen_dashes TRUE)
    endif()
    continue()
  endif()
  list(APPEND cmd "${arg}")
  if(take_output)
    set(output "${arg}")
    set(take_output FALSE)
  elseif(arg STREQUAL "-o")
    set(take_output TRUE)
  endif()
endforeach()
if(NOT cmd OR NOT output)
  message(FATAL_ERROR "SizeBudget.cmake: no link command with -o after --")
endif()

execute_process(COMMAND ${cmd} RESULT_VARIABLE rv)
if(NOT rv EQUAL 0)
  # The linker's own failure: its messages are already out.
  message(FATAL_ERROR "size budget: the link failed (${rv})")
endif()

# The stripped size, measured on a stripped copy (the same size when the link stripped already).
set(measured "${output}.stripped-size")
execute_process(COMMAND "${STRIP}" -o "${measured}" "${output}" RESULT_VARIABLE rv)
if(NOT rv EQUAL 0)
  message(FATAL_ERROR "size budget: '${STRIP} -o ${measured} ${output}' failed")
endif()
file(SIZE "${measured}" size)
file(REMOVE "${measured}")

math(EXPR pct "${size} * 100 / ${BUDGET}")
math(EXPR kib "${size} / 1024")
math(EXPR budget_kib "${BUDGET} / 1024")
get_filename_component(name "${output}" NAME)
if(size GREATER BUDGET)
  file(RENAME "${output}" "${output}.over-budget")
  math(EXPR over "${size} - ${BUDGET}")
  message(FATAL_ERROR "size budget: ${name} (${ARCH}) is ${size} bytes stripped (${kib} KiB), over its budget of "
          "${BUDGET} bytes (${budget_kib} KiB) by ${over} bytes. The binary is kept as "
          "${output}.over-budget; tools/size-report.sh says what each dependency costs.")
endif()
message("size budget: ${name} (${ARCH}) ${size} bytes stripped (${kib} KiB), ${pct}% of ${BUDGET} (${budget_kib} KiB)")
