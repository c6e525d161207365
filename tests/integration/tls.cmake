od_add_cmocka_test(test_tls TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_tls.c
  LIBS od_test_harness)
