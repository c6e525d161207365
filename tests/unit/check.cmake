# test_check: the store's consistency check (src/store/check.c), on a store
# built through the store API and then damaged with raw LMDB writes.
od_add_cmocka_test(test_check SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_check.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_store)
