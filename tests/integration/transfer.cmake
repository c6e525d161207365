# Export, import and backup against real orgdird processes (issue 5),
# including kill -9 during an import's commit.
od_add_cmocka_test(test_transfer TIMEOUT 600
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_transfer.c
  LIBS od_test_harness)
# ORGDIRD_TEST_REFRESH_WRITES=1: the servers reopen their store after
# every batch that wrote (as after a large import), so the reopen meets
# imports, exports, backups and the writes beside them.
set_property(TEST test_transfer APPEND PROPERTY ENVIRONMENT
  "ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json"
  "ORGDIRD_TEST_REFRESH_WRITES=1")
