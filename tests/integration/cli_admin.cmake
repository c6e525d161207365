# End-to-end test of the admin side of orgctl: where the token comes from,
# `token add/ls/rm` and the roles, `log` and `watch` (some runs under
# valgrind when it is installed), against a real orgdird over ipc://
# (helpers in lib.sh).
add_test(NAME cli_admin COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_admin_test.sh)
set_tests_properties(cli_admin PROPERTIES TIMEOUT 300
  ENVIRONMENT "ORGDIRD=$<TARGET_FILE:orgdird>;ORGCTL=$<TARGET_FILE:orgctl>")
# clang links its sanitizer runtime statically, so ldd cannot tell: say so.
if(ORGDIR_SANITIZED)
  set_property(TEST cli_admin APPEND PROPERTY ENVIRONMENT "ORGDIR_SANITIZED=1")
endif()
