# Whole-tree GetSubtree replies through the server's spare reply buffer:
# repeated, refused for size, and from several clients at once.
od_add_cmocka_test(test_subtree TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_subtree.c
  LIBS od_test_harness)
