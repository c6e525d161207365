# A sanitized library cannot be linked by a plain compiler: skip then.
if(NOT ORGDIR_SANITIZED)
add_test(NAME install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/install_test.sh
  ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(install PROPERTIES TIMEOUT 120)
endif()
