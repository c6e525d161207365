# orgdird --check from the outside: it refuses a directory that holds no
# store (exit 19, FAILED_PRECONDITION) and creates nothing; it passes a store
# a real orgdird wrote (check_cli_test.sh, helpers in lib.sh).
add_test(NAME check_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/check_cli_test.sh)
set_tests_properties(check_cli PROPERTIES TIMEOUT 120
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>")
