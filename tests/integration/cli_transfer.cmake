add_test(NAME cli_transfer COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_transfer_test.sh)
set_tests_properties(cli_transfer PROPERTIES TIMEOUT 120
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
