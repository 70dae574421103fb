//! Locks for the in-memory store: the operating system's under `std`
//! (threads that wait sleep instead of spinning, which matters with more
//! threads than cores), spin locks without it.

#[cfg(feature = "std")]
mod imp {
    use std::sync::PoisonError;

    #[derive(Debug, Default)]
    pub struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }
        /// A thread that panicked while holding the lock cannot have left a
        /// half-applied commit: commits check everything before they change
        /// anything, and nothing after the checks can panic.
        pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[derive(Debug, Default)]
    pub struct RwLock<T>(std::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub const fn new(value: T) -> Self {
            Self(std::sync::RwLock::new(value))
        }
        pub fn read(&self) -> std::sync::RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(PoisonError::into_inner)
        }
        pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(PoisonError::into_inner)
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    #[derive(Debug, Default)]
    pub struct Mutex<T>(spin::Mutex<T>);

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Self {
            Self(spin::Mutex::new(value))
        }
        pub fn lock(&self) -> spin::MutexGuard<'_, T> {
            self.0.lock()
        }
    }

    #[derive(Debug, Default)]
    pub struct RwLock<T>(spin::RwLock<T>);

    impl<T> RwLock<T> {
        pub const fn new(value: T) -> Self {
            Self(spin::RwLock::new(value))
        }
        pub fn read(&self) -> spin::RwLockReadGuard<'_, T> {
            self.0.read()
        }
        pub fn write(&self) -> spin::RwLockWriteGuard<'_, T> {
            self.0.write()
        }
    }
}

pub(crate) use imp::{Mutex, RwLock};
