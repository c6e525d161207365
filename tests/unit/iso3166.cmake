# test_iso3166: ISO 3166-1 reference data (src/common/iso3166.c) against the
# iso-codes files installed on this machine, plus hand-made and damaged
# catalogues written into a temporary directory.
od_add_cmocka_test(test_iso3166 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_iso3166.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_iso3166 Threads::Threads)
# The same tests under other process locales: the results must not change.
add_test(NAME test_iso3166_lang_c COMMAND test_iso3166)
set_tests_properties(test_iso3166_lang_c PROPERTIES TIMEOUT 60
  ENVIRONMENT "LANG=C;LC_ALL=C;LANGUAGE=;ORGDIR_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")
add_test(NAME test_iso3166_language_fr COMMAND test_iso3166)
set_tests_properties(test_iso3166_language_fr PROPERTIES TIMEOUT 60
  ENVIRONMENT "LANG=C.UTF-8;LC_ALL=C.UTF-8;LANGUAGE=fr;ORGDIR_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp")
