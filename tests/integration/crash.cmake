od_add_cmocka_test(test_crash TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_crash.c
  LIBS od_test_harness)
# The servers reopen their store after every batch that wrote
# (ORGDIRD_TEST_REFRESH_WRITES=1), so some kills land during a reopen.
set_property(TEST test_crash APPEND PROPERTY ENVIRONMENT "ORGDIRD_TEST_REFRESH_WRITES=1")
