# liborgdir against a REP server run inside the test (no orgdird needed).
od_add_cmocka_test(test_client
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_client.c
  LIBS orgdir_static nng::nng Threads::Threads)
