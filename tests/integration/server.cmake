od_add_cmocka_test(test_integration TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_integration.c
          ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c
  LIBS orgdir_static od_common nng::nng Threads::Threads)
target_include_directories(test_integration PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
set_property(TEST test_integration APPEND PROPERTY ENVIRONMENT
  "ORGDIR_EXAMPLE=${PROJECT_SOURCE_DIR}/examples/iom/org.json")
