od_add_cmocka_test(test_crash TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_crash.c
          ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c
  LIBS orgdir_static od_common od_spawn nng::nng Threads::Threads)
target_include_directories(test_crash PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
# The servers reopen their store after every batch that wrote
# (ORGDIRD_TEST_REFRESH_WRITES=1), so some kills land during a reopen.
set_property(TEST test_crash APPEND PROPERTY ENVIRONMENT "ORGDIRD_TEST_REFRESH_WRITES=1")
