od_add_cmocka_test(test_tls TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_tls.c
          ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c
  LIBS orgdir_static od_common od_spawn nng::nng Threads::Threads)
target_include_directories(test_tls PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
