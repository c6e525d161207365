# test_textkey: search keys (src/common/textkey.c).
od_add_cmocka_test(test_textkey SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_textkey.c
  LIBS od_textkey)
