# End-to-end test of orgctl against a real orgdird over ipc://.
add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_test.sh)
set_tests_properties(cli PROPERTIES TIMEOUT 120
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
