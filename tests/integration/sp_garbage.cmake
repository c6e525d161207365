# Garbage from real SP peers (nngcat) and from a plain TCP client, then a
# check that the server still serves and its store is clean
# (sp_garbage_test.sh; nngcat is in Debian's nng-utils).
find_program(OD_NNGCAT nngcat)
if(OD_NNGCAT)
  add_test(NAME sp_garbage COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/sp_garbage_test.sh)
  set_tests_properties(sp_garbage PROPERTIES TIMEOUT 120
    ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>;NNGCAT=${OD_NNGCAT}")
else()
  message(WARNING "nngcat not found (nng-utils): the sp_garbage test is left out")
endif()
