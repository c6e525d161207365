# orgdird at the machine's limits: a full disk, the file size limit, the
# open files limit. A write that does not fit is refused saying so and
# loses nothing, the server serves on (host_limits_test.sh; the full-disk
# part needs root to mount a tmpfs).
add_test(NAME host_limits COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/host_limits_test.sh)
set_tests_properties(host_limits PROPERTIES TIMEOUT 180
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
