//! Reading and writing the JSON format of the Python ConfigSpace package (1.x).
