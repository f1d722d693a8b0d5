#ifndef GANTRY_VERSION_H
#define GANTRY_VERSION_H
#define GANTRY_VERSION "0.1.0"
#endif
