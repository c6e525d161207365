# orgdird when its disk fills up, or its data file reaches the file size
# limit: the write is refused saying so, nothing is lost, the server serves
# on (disk_full_test.sh; the full-disk half needs root to mount a tmpfs).
add_test(NAME disk_full COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/disk_full_test.sh)
set_tests_properties(disk_full PROPERTIES TIMEOUT 180
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
