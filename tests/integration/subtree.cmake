# Whole-tree GetSubtree replies through the server's spare reply buffer:
# repeated, refused for size, and from several clients at once.
od_add_cmocka_test(test_subtree TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_subtree.c
          ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c
  LIBS orgdir_static od_common od_spawn nng::nng Threads::Threads)
target_include_directories(test_subtree PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
