# End-to-end test of `orgctl country`, `orgctl stats` and the units'
# --country against a real orgdird over ipc:// (helpers in lib.sh).
add_test(NAME cli_country COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_country_test.sh)
set_tests_properties(cli_country PROPERTIES TIMEOUT 120
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>")
