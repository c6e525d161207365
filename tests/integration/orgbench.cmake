# Smoke run of orgbench (issue 6): spawns its own orgdird and echo server on
# a temporary directory, runs every workload briefly at two levels, and fails
# when any call fails unexpectedly or a workload completes no calls. No
# timing is asserted: docs/PERFORMANCE.md holds the measurements.
if(TARGET orgbench)
  add_test(NAME orgbench_smoke
    COMMAND $<TARGET_FILE:orgbench> run --spawn --orgdird $<TARGET_FILE:orgdird>
            --units 500 --duration 0.3 --warmup 0.1 --concurrency 1,4 --timeout 10000
            --workloads get,children,subtree,path,update,write,mixed,ping,echo)
  set_tests_properties(orgbench_smoke PROPERTIES TIMEOUT 120
    ENVIRONMENT "TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
  # The threaded client and the search workload's "unavailable" path.
  add_test(NAME orgbench_smoke_threaded
    COMMAND $<TARGET_FILE:orgbench> run --spawn --orgdird $<TARGET_FILE:orgdird>
            --units 200 --duration 0.2 --warmup 0.05 --concurrency 2 --threaded --timeout 10000
            --transport ipc --workloads get,search,update,echo --json)
  set_tests_properties(orgbench_smoke_threaded PROPERTIES TIMEOUT 120
    ENVIRONMENT "TMPDIR=${CMAKE_CURRENT_BINARY_DIR}")
endif()
