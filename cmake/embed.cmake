# Turns a file into a C array: cmake -DINPUT=f -DOUTPUT=f.c -DNAME=sym -P embed.cmake
file(READ "${INPUT}" HEX HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${HEX}")
file(WRITE "${OUTPUT}" "/* generated from ${INPUT} by cmake/embed.cmake */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {${BYTES}0x00};\nconst size_t ${NAME}_len = sizeof(${NAME}) - 1;\n")
