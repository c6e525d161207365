od_add_cmocka_test(test_store SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_store)
od_add_cmocka_test(test_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_frame.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_server)
od_add_cmocka_test(test_common SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_common.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_common)
od_add_cmocka_test(test_countries SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_countries.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_store)
