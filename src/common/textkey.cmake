# od_textkey: search keys (normalised words) made with utf8proc.
add_library(od_textkey STATIC ${CMAKE_CURRENT_SOURCE_DIR}/textkey.c)
target_link_libraries(od_textkey PUBLIC od_common PkgConfig::UTF8PROC)
