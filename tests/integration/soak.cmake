# test_soak: 8 readers and 3 writers against one orgdird for
# ORGDIR_SOAK_SECONDS (default 5); then od_store_check on its data directory.
od_add_cmocka_test(test_soak TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_soak.c
  LIBS od_test_harness od_store)
