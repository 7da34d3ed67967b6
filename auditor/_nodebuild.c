/* Build libcst nodes from the keyword arguments libcst's native parser passes.
 *
 * libcst's parser (Rust) makes every node by calling the node class with a dict of
 * keyword arguments. In Python that call allocates the object, looks up and runs the
 * dataclass `__init__` (a frame, the keywords matched to parameters, one slot store per
 * field): about a sixth of a whole check. A `Builder` does the same stores in C, for
 * the duration of a parse only (auditor/parsing.py): it allocates the instance as
 * `object.__new__` would, fills each slot from the keywords or the field's default, and
 * skips `__post_init__` (validation, which parsing pauses anyway).
 *
 * Anything it was not made for (positional arguments, a keyword the class lacks, a
 * required field missing) goes to the class itself, which builds the node or raises the
 * error Python would. auditor/node_build.py makes the builders and checks that a tree
 * built with them equals one built without; without this extension, nothing changes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#if PY_VERSION_HEX < 0x030A0000  /* Python 3.9 */
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
#endif

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    Py_ssize_t count;      /* fields */
    PyObject *names;       /* tuple of str: the fields, in order */
    PyObject *defaults;    /* tuple: the default, or REQUIRED when there is none */
    PyObject *factories;   /* tuple: the default factory, or None */
    Py_ssize_t *offsets;   /* where each field's slot lies in the instance */
} Builder;

static PyObject *required_marker;  /* stands for "no default" in `defaults` */

static void
Builder_dealloc(Builder *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->cls);
    Py_CLEAR(self->names);
    Py_CLEAR(self->defaults);
    Py_CLEAR(self->factories);
    PyMem_Free(self->offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Builder_traverse(Builder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    Py_VISIT(self->names);
    Py_VISIT(self->defaults);
    Py_VISIT(self->factories);
    return 0;
}

static int
Builder_clear(Builder *self)
{
    Py_CLEAR(self->cls);
    Py_CLEAR(self->names);
    Py_CLEAR(self->defaults);
    Py_CLEAR(self->factories);
    return 0;
}

/* The offset of the writable object slot that `descriptor` stands for, or -1. */
static Py_ssize_t
slot_offset(PyObject *descriptor)
{
    if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type)) {
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return -1;
    }
    return member->offset;
}

static PyObject *
Builder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyTypeObject *cls;
    PyObject *names, *defaults, *factories;
    static char *keywords[] = {"cls", "names", "defaults", "factories", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!:Builder", keywords, &PyType_Type, &cls,
                                     &PyTuple_Type, &names, &PyTuple_Type, &defaults,
                                     &PyTuple_Type, &factories)) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (PyTuple_GET_SIZE(defaults) != count || PyTuple_GET_SIZE(factories) != count) {
        PyErr_SetString(PyExc_ValueError, "names, defaults and factories differ in length");
        return NULL;
    }
    if (cls->tp_new != PyBaseObject_Type.tp_new || (cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT)) {
        PyErr_SetString(PyExc_TypeError, "only concrete classes built by object.__new__");
        return NULL;
    }
    Py_ssize_t *offsets = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
    if (offsets == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_CheckExact(name)) {
            PyMem_Free(offsets);
            PyErr_SetString(PyExc_TypeError, "field names must be str");
            return NULL;
        }
        PyObject *descriptor = _PyType_Lookup(cls, name);  /* borrowed */
        Py_ssize_t offset = descriptor == NULL ? -1 : slot_offset(descriptor);
        if (offset < 0) {
            PyMem_Free(offsets);
            PyErr_Format(PyExc_TypeError, "%R is not a slot of %R", name, cls);
            return NULL;
        }
        offsets[i] = offset;
    }
    Builder *self = (Builder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(offsets);
        return NULL;
    }
    Py_INCREF(cls);
    self->cls = cls;
    self->count = count;
    self->names = Py_NewRef(names);
    self->defaults = Py_NewRef(defaults);
    self->factories = Py_NewRef(factories);
    self->offsets = offsets;
    return (PyObject *)self;
}

/* The class builds it: for every call the fast path was not made for. */
static PyObject *
by_the_class(Builder *self, PyObject *args, PyObject *kwargs)
{
    return PyObject_Call((PyObject *)self->cls, args, kwargs);
}

static PyObject *
Builder_call(Builder *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        return by_the_class(self, args, kwargs);
    }
    Py_ssize_t given = kwargs == NULL ? 0 : PyDict_GET_SIZE(kwargs);
    /* Every keyword must name a field: count those found, compare at the end. */
    Py_ssize_t found = 0;
    PyObject *node = self->cls->tp_alloc(self->cls, 0);
    if (node == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->count; i++) {
        PyObject *value = NULL;
        if (given) {
            value = PyDict_GetItemWithError(kwargs, PyTuple_GET_ITEM(self->names, i));
            if (value == NULL && PyErr_Occurred()) {
                Py_DECREF(node);
                return NULL;
            }
        }
        if (value != NULL) {
            Py_INCREF(value);
            found++;
        }
        else {
            PyObject *factory = PyTuple_GET_ITEM(self->factories, i);
            PyObject *fallback = PyTuple_GET_ITEM(self->defaults, i);
            if (factory != Py_None) {
                value = PyObject_CallNoArgs(factory);
                if (value == NULL) {
                    Py_DECREF(node);
                    return NULL;
                }
            }
            else if (fallback != required_marker) {
                value = Py_NewRef(fallback);
            }
            else {  /* a required field missing: the class raises Python's own error */
                Py_DECREF(node);
                return by_the_class(self, args, kwargs);
            }
        }
        PyObject **slot = (PyObject **)((char *)node + self->offsets[i]);
        Py_XSETREF(*slot, value);
    }
    if (found != given) {  /* a keyword that names no field */
        Py_DECREF(node);
        return by_the_class(self, args, kwargs);
    }
    return node;
}

static PyObject *
Builder_repr(Builder *self)
{
    return PyUnicode_FromFormat("<node builder for %s>", self->cls->tp_name);
}

static PyMemberDef Builder_members[] = {
    {"cls", T_OBJECT, offsetof(Builder, cls), READONLY, "the class whose nodes this builds"},
    {NULL}
};

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditor._nodebuild.Builder",
    .tp_doc = PyDoc_STR("Builder(cls, names, defaults, factories): cls(**fields) in C, without validation."),
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Builder_new,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_traverse = (traverseproc)Builder_traverse,
    .tp_clear = (inquiry)Builder_clear,
    .tp_call = (ternaryfunc)Builder_call,
    .tp_repr = (reprfunc)Builder_repr,
    .tp_members = Builder_members,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "auditor._nodebuild",
    .m_doc = PyDoc_STR("libcst nodes built in C while auditor parses (see auditor/node_build.py)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__nodebuild(void)
{
    if (PyType_Ready(&BuilderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    required_marker = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (required_marker == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(required_marker);
    Py_INCREF(&BuilderType);
    if (PyModule_AddObject(m, "REQUIRED", required_marker) < 0
            || PyModule_AddObject(m, "Builder", (PyObject *)&BuilderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
