od_add_cmocka_test(test_integration TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_integration.c
  LIBS od_test_harness)
set_property(TEST test_integration APPEND PROPERTY ENVIRONMENT
  "ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
# The same tests with every write batch run twice, its first run aborted as
# after a full map (writer.c): no write may land twice or answer otherwise;
# and the store reopened after every batch that wrote, as after a large
# import (od_store_refresh), among watches and concurrent reads.
add_test(NAME test_integration_repeat COMMAND test_integration)
set_tests_properties(test_integration_repeat PROPERTIES TIMEOUT 180
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;ORGDIR_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp-repeat;ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json;ORGDIRD_TEST_REPEAT_BATCHES=1;ORGDIRD_TEST_REFRESH_WRITES=1")
